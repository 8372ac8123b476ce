// SPDX-License-Identifier: Apache-2.0

package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadErrors: each bad inventory is refused with an error naming the
// file and what is wrong; an empty one has the default system namespaces.
func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "imagez: []\n", "field imagez not found"},
		{"unknown workload key", "workloads: [{namespace: a, name: b, serviceaccount: c}]\n", "field serviceaccount not found"},
		{"bad repository glob", "images: [{repository: \"ghcr.io/[acme\"}]\n", "images[0]: bad repository pattern"},
		{"namespace without name", "namespaces: [{creators: [bob]}]\n", "namespaces[0]: name is empty"},
		{"bad creator glob", "namespaces: [{name: shop, creators: [\"[ci\"]}]\n", "namespaces[0]: bad creator pattern"},
		{"workload without a name", "workloads: [{namespace: shop}]\n", "workloads[0]: namespace and name are required"},
		{"bad name pattern", "workloads: [{namespace: shop, name: a, name_pattern: \"[a\"}]\n", "workloads[0]: bad name_pattern"},
		{"bad trusted identity", "trusted_identities: [\"[ci\"]\n", "trusted_identities[0]: bad pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "inventory.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), file) {
				t.Fatalf("got %v, want an error naming %s and %q", err, file, tt.want)
			}
		})
	}
	inv, err := Parse("empty.yaml", nil)
	if err != nil || len(inv.SystemNamespaces) != 3 {
		t.Fatalf("an empty inventory has the default system namespaces: %v %v", inv, err)
	}
}

// TestMerge: files merged in order: lists concatenated, system namespaces
// and trusted identities without repeats, namespaces of one name joined,
// strict if either is, a signing key named again takes the later key;
// Finish sets the default system namespaces only when none were given.
func TestMerge(t *testing.T) {
	a, err := Decode("a.yaml", []byte(`
trusted_identities: [ci]
namespaces: [{name: shop, creators: [alice], channels: [kubectl]}]
workloads: [{namespace: kube-system, name: coredns, kind: Deployment}]

`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode("b.yaml", []byte(`
strict: true
trusted_identities: [ci, deployer]
namespaces: [{name: shop, creators: [alice, bob], require_digest: true}, {name: pay}]
workloads: [{namespace: pay, name: payments, kind: Deployment}]
`))
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inventory{}
	inv.Merge(a)
	inv.Merge(b)
	inv.Merge(&Inventory{SigningKeys: map[string]string{"acme": "new"}})
	inv.Finish()
	if !inv.Strict || strings.Join(inv.TrustedIdentities, ",") != "ci,deployer" || len(inv.Workloads) != 2 ||
		len(inv.Namespaces) != 2 || inv.SigningKeys["acme"] != "new" || len(inv.SystemNamespaces) != 3 {
		t.Fatalf("merged: %+v", inv)
	}
	if ns := inv.Namespaces[0]; strings.Join(ns.Creators, ",") != "alice,bob" || strings.Join(ns.Channels, ",") != "kubectl" || !ns.RequireDigest {
		t.Errorf("shop: %+v", ns)
	}
}
