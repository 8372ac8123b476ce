// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Exception is a rule's exception, as Falco writes them: the rule does not
// fire on a record whose fields compare true, field by field, with one of
// the values tuples.
//
//	exceptions:
//	  - name: break_glass
//	    fields: [pod.actor.groups, pod.namespace]
//	    comps: [intersects, "="]          # optional: "=" for each field
//	    values:
//	      - [[platform-admins, sre], kube-system]
//	  - name: debug_namespaces
//	    fields: pod.namespace             # one field: comps defaults to in,
//	    values: [debug, sandbox]          # values is the list it is in
//
// A field is any expression over the record (pod.namespace,
// pod.labels["k8s-app"], pod.actor.groups). The rule's condition becomes
// (condition) and not (tuple or tuple ...), each tuple the and of its
// comparisons. An exception without values excepts nothing: it is a named
// place for a later file to append values to.
type Exception struct {
	Name   string  `yaml:"name"`
	Fields strList `yaml:"fields"`
	Comps  strList `yaml:"comps"`
	Values []any   `yaml:"values"`
}

// strList is a YAML string or list of strings; Scalar tells which.
type strList struct {
	Items  []string
	Scalar bool
}

func (l *strList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.Scalar = true
		l.Items = []string{n.Value}
		return nil
	}
	l.Scalar = false
	return n.Decode(&l.Items)
}

func (l strList) MarshalYAML() (any, error) {
	if l.Scalar && len(l.Items) == 1 {
		return l.Items[0], nil
	}
	return l.Items, nil
}

func (l strList) equal(o strList) bool {
	if len(l.Items) != len(o.Items) {
		return false
	}
	for i := range l.Items {
		if l.Items[i] != o.Items[i] {
			return false
		}
	}
	return true
}

// ExceptionComps are the comparisons an exception may use: Falco's, for
// the record's types.
//
//	=, !=, <, <=, >, >=   the field and the value
//	in                     the field is one of a list of values
//	intersects             the field (a list: pod.actor.groups) shares one of a list of values
//	contains               the field (a string) contains the value, or (a list) has it
//	startswith, endswith   the field (a string) starts or ends with the value
//	glob                   the field matches the glob (path.Match)
var ExceptionComps = []string{"=", "!=", "<", "<=", ">", ">=", "in", "intersects", "contains", "startswith", "endswith", "glob"}

// listComps take a list of values per field.
func listComp(c string) bool { return c == "in" || c == "intersects" }

// exprText returns the exception as an expr expression, true when the
// record is excepted; "" when it has no values. fieldType tells the type
// of a field expression (contains differs on strings and lists).
func (x *Exception) exprText(fieldType func(string) (reflect.Type, error)) (string, error) {
	fields := x.Fields.Items
	if len(fields) == 0 {
		return "", fmt.Errorf("no fields")
	}
	comps := x.Comps.Items
	if len(comps) == 0 {
		comps = make([]string, len(fields))
		for i := range comps {
			comps[i] = "="
			if x.Fields.Scalar {
				comps[i] = "in"
			}
		}
	}
	if len(comps) != len(fields) {
		return "", fmt.Errorf("%d fields, %d comps", len(fields), len(comps))
	}
	for _, c := range comps {
		if !slices.Contains(ExceptionComps, c) {
			return "", fmt.Errorf("unknown comp %q (one of %s)", c, strings.Join(ExceptionComps, " "))
		}
	}
	for _, f := range fields {
		if strings.TrimSpace(f) == "" {
			return "", fmt.Errorf("empty field")
		}
	}
	var tuples [][]any
	switch {
	case x.Fields.Scalar && listComp(comps[0]):
		if len(x.Values) > 0 {
			tuples = [][]any{{x.Values}} // values is the list the one field is in
		}
	case x.Fields.Scalar:
		for _, v := range x.Values {
			tuples = append(tuples, []any{v})
		}
	default:
		for i, v := range x.Values {
			t, ok := v.([]any)
			if !ok || len(t) != len(fields) {
				return "", fmt.Errorf("values[%d]: a list of %d values, one per field", i, len(fields))
			}
			tuples = append(tuples, t)
		}
	}
	if len(tuples) == 0 {
		return "", nil
	}
	var or []string
	for i, t := range tuples {
		var and []string
		for j, f := range fields {
			term, err := comparison(f, comps[j], t[j], fieldType)
			if err != nil {
				return "", fmt.Errorf("values[%d]: %s: %w", i, f, err)
			}
			and = append(and, term)
		}
		or = append(or, "("+strings.Join(and, " && ")+")")
	}
	return strings.Join(or, " || "), nil
}

// comparison is one field compared with one value, in expr.
func comparison(field, comp string, v any, fieldType func(string) (reflect.Type, error)) (string, error) {
	f := "(" + field + ")"
	if listComp(comp) {
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		lits := make([]string, len(list))
		for i, x := range list {
			l, err := literal(x)
			if err != nil {
				return "", err
			}
			lits[i] = l
		}
		if comp == "in" {
			return f + " in [" + strings.Join(lits, ", ") + "]", nil
		}
		return "intersects(" + field + ", [" + strings.Join(lits, ", ") + "])", nil
	}
	lit, err := literal(v)
	if err != nil {
		return "", err
	}
	switch comp {
	case "=":
		return f + " == " + lit, nil
	case "!=", "<", "<=", ">", ">=":
		return f + " " + comp + " " + lit, nil
	case "startswith":
		return f + " startsWith " + lit, nil
	case "endswith":
		return f + " endsWith " + lit, nil
	case "glob":
		return "glob(" + field + ", " + lit + ")", nil
	case "contains":
		t, err := fieldType(field)
		if err != nil {
			return "", err
		}
		if t != nil && t.Kind() == reflect.Slice {
			return lit + " in " + f, nil
		}
		return f + " contains " + lit, nil
	}
	return "", fmt.Errorf("unknown comp %q", comp)
}

// literal writes a YAML scalar as an expr literal.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", fmt.Errorf("a value is empty (null)")
	case []any:
		return "", fmt.Errorf("a list where one value is wanted (a list goes with in or intersects)")
	}
	return "", fmt.Errorf("a value of type %T", v)
}
