// SPDX-License-Identifier: Apache-2.0

package boltcheck

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// fileStorageOptions are the options the collector's file_storage opens its
// databases with (filestorage.bboltOptions, defaults).
func fileStorageOptions() *bbolt.Options {
	return &bbolt.Options{Timeout: time.Second, NoSync: true, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}
}

// makeDB writes a database as the processor, the receivers and the
// exporter queue do (one bucket, many keys), plus nested buckets, inline
// buckets, values larger than a page and deletions, with opts.
func makeDB(t testing.TB, path string, opts *bbolt.Options, seed uint64) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rnd := rand.New(rand.NewPCG(seed, 1))
	for round := 0; round < 5; round++ {
		err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("default"))
			if err != nil {
				return err
			}
			for i := 0; i < 200; i++ {
				v := make([]byte, rnd.IntN(300))
				if rnd.IntN(40) == 0 {
					v = make([]byte, 5000+rnd.IntN(9000)) // overflow pages
				}
				for j := range v {
					v[j] = byte(rnd.Uint32())
				}
				if err := b.Put(fmt.Appendf(nil, "p/%d-%d", round, rnd.IntN(500)), v); err != nil {
					return err
				}
			}
			for i := 0; i < 30; i++ {
				_ = b.Delete(fmt.Appendf(nil, "p/%d-%d", rnd.IntN(round+1), rnd.IntN(500)))
			}
			nested, err := b.CreateBucketIfNotExists([]byte("nested"))
			if err != nil {
				return err
			}
			small, err := nested.CreateBucketIfNotExists(fmt.Appendf(nil, "inline-%d", round))
			if err != nil {
				return err
			}
			return small.Put([]byte("k"), []byte("v"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestValidDatabases: databases bbolt wrote, with and without a synced
// freelist, pass; so do no file and an empty one.
func TestValidDatabases(t *testing.T) {
	dir := t.TempDir()
	for seed := uint64(0); seed < 6; seed++ {
		for _, opts := range []*bbolt.Options{fileStorageOptions(), {Timeout: time.Second}} {
			path := filepath.Join(dir, fmt.Sprintf("db-%d-%v", seed, opts.NoFreelistSync))
			makeDB(t, path, opts, seed)
			if err := Check(path); err != nil {
				t.Fatalf("seed %d, NoFreelistSync %v: %v", seed, opts.NoFreelistSync, err)
			}
		}
	}
	if err := Check(filepath.Join(dir, "none")); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(empty); err != nil {
		t.Fatal(err)
	}
}

// TestLocked: a database another process (here: this one) holds open for
// writing is not checked.
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := bbolt.Open(path, 0o600, fileStorageOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Check(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("%v, want ErrLocked", err)
	}
}

// TestKnownDamage: the damage seen in a collector's state directory:
// truncated files and pages overwritten in the middle.
func TestKnownDamage(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig")
	makeDB(t, orig, fileStorageOptions(), 7)
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	m0, m1 := parseMeta(data), parseMeta(data[ps:])
	live := int(max(m0.pgid, m1.pgid)) * ps // bbolt grows the file past its pages
	cases := map[string][]byte{
		"truncated to 100 bytes":         data[:100],
		"truncated to one page":          data[:ps],
		"truncated to half":              data[:len(data)/2],
		"last page cut off":              data[:live-ps],
		"last byte of the last page cut": data[:live-1],
		"meta pages zeroed":              append(make([]byte, 2*ps), data[2*ps:]...),
		"page 3 overwritten with random": overwrite(data, 3*ps, ps, 1),
		"page 4 header overwritten":      overwrite(data, 4*ps, 16, 2),
	}
	for name, b := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		err := Check(path)
		if !IsDamage(err) {
			t.Errorf("%s: %v, want damage", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

func overwrite(data []byte, off, n int, seed uint64) []byte {
	out := bytes.Clone(data)
	rnd := rand.New(rand.NewPCG(seed, 2))
	for i := off; i < off+n && i < len(out); i++ {
		out[i] = byte(rnd.Uint32())
	}
	return out
}

// TestRandomDamage is the property the collector relies on: for damage at
// random (truncation anywhere, a range of bytes overwritten, bits
// flipped), whenever Check passes a file, bbolt opens it, walks it, writes
// to it and closes it without taking the process down (run in a child
// process: a fault there kills only the child). bbolt may refuse the file
// with an error, or panic on the opening goroutine (file_storage's
// recreate and filestorageext recover that). BOLTCHECK_CASES sets how many (150).
func TestRandomDamage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process per case")
	}
	n := 150
	if s := os.Getenv("BOLTCHECK_CASES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig")
	makeDB(t, orig, fileStorageOptions(), 11)
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(42, 3))
	outcomes := map[string]int{}
	for i := 0; i < n; i++ {
		b := bytes.Clone(data)
		var what string
		switch rnd.IntN(3) {
		case 0:
			cut := rnd.IntN(len(b))
			b, what = b[:cut], fmt.Sprintf("truncated to %d", cut)
		case 1:
			off, l := rnd.IntN(len(b)), 1+rnd.IntN(4096)
			b, what = overwrite(b, off, l, uint64(i)), fmt.Sprintf("%d bytes overwritten at %d", l, off)
		default:
			for k := 0; k < 1+rnd.IntN(8); k++ {
				off := rnd.IntN(len(b))
				b[off] ^= 1 << rnd.IntN(8)
			}
			what = "bits flipped"
		}
		path := filepath.Join(dir, fmt.Sprintf("case-%d", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(path); err != nil {
			if !IsDamage(err) {
				t.Fatalf("case %d (%s): %v", i, what, err)
			}
			outcomes["damage found"]++
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$")
		cmd.Env = append(os.Environ(), "BOLTCHECK_HELPER="+path)
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		switch code {
		case 0:
			outcomes["passed, bbolt fine"]++
		case 3:
			outcomes["passed, bbolt refused at open (error or panic on the caller)"]++
		default:
			t.Errorf("case %d (%s): Check passed it, and bbolt took the process down (exit %d):\n%.2000s", i, what, code, out)
		}
	}
	t.Logf("%d cases: %v", n, outcomes)
}

// TestHelperOpen is the child of TestRandomDamage: it opens the file as
// file_storage does and uses it. Exit 0: fine; 3: refused at open (an
// error, or a panic on this goroutine); a crash otherwise.
func TestHelperOpen(t *testing.T) {
	path := os.Getenv("BOLTCHECK_HELPER")
	if path == "" {
		t.Skip("child process of TestRandomDamage")
	}
	var db *bbolt.DB
	err := func() (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		db, err = bbolt.Open(path, 0o600, fileStorageOptions())
		if err != nil {
			return err
		}
		return db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("default")); return err })
	}()
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(3)
	}
	// From here on a panic is a crash: the receivers and exporters read and
	// write from goroutines of their own.
	var walk func(b *bbolt.Bucket) error
	walk = func(b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return walk(sub)
				}
			}
			_ = bytes.Clone(v)
			return nil
		})
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.ForEach(func(_ []byte, b *bbolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		b := tx.Bucket([]byte("default"))
		for i := 0; i < 50; i++ {
			if err := b.Put(fmt.Appendf(nil, "new-%d", i), bytes.Repeat([]byte{'x'}, 100*i)); err != nil {
				return err
			}
		}
		c := b.Cursor()
		n := 0
		for k, _ := c.First(); k != nil && n < 20; k, _ = c.Next() {
			n++
		}
		for k, _ := c.First(); k != nil && n > 0; k, _ = c.First() {
			if err := b.Delete(k); err != nil {
				return err
			}
			n--
		}
		return nil
	})
	if err != nil {
		fmt.Println("error after open:", err)
	}
	if err := db.Close(); err != nil {
		fmt.Println("close:", err)
	}
}
