// SPDX-License-Identifier: Apache-2.0

// Package boltcheck tells whether bbolt can open a database file without
// taking the process down.
//
// bbolt maps the file into memory and follows the page ids it reads there
// without bounds checks. In a truncated file the pages past the end fault
// (SIGBUS); a page id overwritten with garbage points outside the mapping
// (SIGSEGV) or at a page that is not the one expected (an assertion panic).
// When the file was written without a freelist, as the collector's
// file_storage writes it, bbolt.Open walks the whole tree in a goroutine of
// its own, where neither a recover nor debug.SetPanicOnFault of the caller
// can catch the fault or the panic: the process dies, and dies again at
// every start.
//
// Check walks the same tree with ordinary reads (no mapping) and bounds
// checks, before bbolt opens the file: every page bbolt would touch when it
// opens the file and reads, writes or walks it is inside the file, is the
// page its parent names and of the kind expected, and every element, key and
// value is inside its page. A file that passes can still be inconsistent
// in ways bbolt reports itself (keys out of order, a page referenced twice):
// those it reports with an error or a panic on the caller's goroutine.
package boltcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk format (go.etcd.io/bbolt/internal/common), native byte
// order.
const (
	pageHeaderSize = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elemSize       = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketSize     = 16 // root pgid uint64, sequence uint64
	metaSize       = 64
	metaSumSize    = 56 // the checksum covers the meta up to itself

	magic          = 0xED0CDAED
	version        = 2
	branchFlag     = 0x01
	leafFlag       = 0x02
	metaFlag       = 0x04
	freelistFlag   = 0x10
	bucketLeafFlag = 0x01
	noFreelist     = ^uint64(0)
)

var ne = binary.NativeEndian

// Damage is a file bbolt cannot open safely, and why.
type Damage struct {
	Path   string
	Reason string
}

func (d *Damage) Error() string {
	return fmt.Sprintf("damaged bbolt database %s: %s", d.Path, d.Reason)
}

// IsDamage reports whether err is a *Damage.
func IsDamage(err error) bool {
	var d *Damage
	return errors.As(err, &d)
}

// ErrLocked is returned when another process holds the file (bbolt's lock):
// it is in use, and not checked.
var ErrLocked = errors.New("boltcheck: the database is locked by another process")

// Check reports whether the bbolt database at path can be opened: nil when
// it can, or when there is none (no file, or an empty one, which bbolt
// initializes); a *Damage when it cannot; ErrLocked when another process
// holds it; another error when the file cannot be read.
func Check(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	unlock, err := lockShared(f)
	if err != nil {
		return err
	}
	defer unlock()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		return nil
	}
	c := &checker{f: f, size: info.Size(), path: path, seen: map[uint64]bool{}}
	if err := c.check(); err != nil {
		var d *Damage
		if errors.As(err, &d) {
			return err
		}
		return c.damage("%v", err)
	}
	return nil
}

type checker struct {
	f        *os.File
	size     int64
	path     string
	pageSize int64
	hwm      uint64 // meta.pgid: the first page id past the database
	seen     map[uint64]bool
	pages    int
}

func (c *checker) damage(format string, args ...any) error {
	return &Damage{Path: c.path, Reason: fmt.Sprintf(format, args...)}
}

type meta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
	magic, version, flags      uint32
	checksum, sum              uint64
	ok                         bool
}

func parseMeta(page []byte) meta {
	if len(page) < pageHeaderSize+metaSize {
		return meta{}
	}
	b := page[pageHeaderSize:]
	m := meta{magic: ne.Uint32(b[0:]), version: ne.Uint32(b[4:]), pageSize: ne.Uint32(b[8:]), flags: ne.Uint32(b[12:]),
		root: ne.Uint64(b[16:]), freelist: ne.Uint64(b[32:]), pgid: ne.Uint64(b[40:]), txid: ne.Uint64(b[48:]),
		checksum: ne.Uint64(b[56:])}
	h := fnv.New64a()
	_, _ = h.Write(b[:metaSumSize])
	m.sum = h.Sum64()
	m.ok = m.magic == magic && m.version == version && m.checksum == m.sum
	return m
}

// readAt reads len(buf) bytes at off; a read past the end is damage.
func (c *checker) readAt(buf []byte, off int64) error {
	if off < 0 || off+int64(len(buf)) > c.size {
		return c.damage("page at byte %d (%d bytes) past the end of the file (%d bytes): truncated", off, len(buf), c.size)
	}
	if _, err := c.f.ReadAt(buf, off); err != nil {
		return err
	}
	return nil
}

// pageSizeOf finds the page size as bbolt.Open does (db.getPageSize).
func (c *checker) pageSizeOf() (int64, error) {
	var buf [0x1000]byte
	canRead := false
	if n, err := c.f.ReadAt(buf[:], 0); err == nil && n == len(buf) {
		canRead = true
		if m := parseMeta(buf[:]); m.ok {
			return int64(m.pageSize), nil
		}
	}
	for i := 0; i <= 14; i++ {
		pos := int64(1024) << i
		if pos >= c.size-1024 {
			break
		}
		n, err := c.f.ReadAt(buf[:], pos)
		if (err == nil && n == len(buf)) || (errors.Is(err, io.EOF) && int64(n) == c.size-pos) {
			canRead = true
			if m := parseMeta(buf[:n]); m.ok {
				return int64(m.pageSize), nil
			}
		}
	}
	if canRead {
		return int64(os.Getpagesize()), nil
	}
	return 0, c.damage("no valid meta page")
}

func (c *checker) check() error {
	ps, err := c.pageSizeOf()
	if err != nil {
		return err
	}
	if ps < 1024 || ps > 1<<24 || ps&(ps-1) != 0 {
		return c.damage("page size %d", ps)
	}
	c.pageSize = ps
	if c.size < 2*ps {
		return c.damage("file size %d smaller than two pages of %d: truncated", c.size, ps)
	}
	// bbolt uses the meta of the highest txid, or the other when that one
	// does not validate (db.meta).
	var metas [2]meta
	for i := range metas {
		page := make([]byte, pageHeaderSize+metaSize)
		if err := c.readAt(page, int64(i)*ps); err != nil {
			return err
		}
		metas[i] = parseMeta(page)
	}
	a, b := metas[0], metas[1]
	if b.txid > a.txid {
		a, b = b, a
	}
	m := a
	if !m.ok {
		m = b
	}
	if !m.ok {
		return c.damage("both meta pages invalid")
	}
	if int64(m.pageSize) != ps {
		return c.damage("meta page size %d, file read with %d", m.pageSize, ps)
	}
	c.hwm = m.pgid
	if c.hwm < 3 || m.root < 2 || m.root >= c.hwm {
		return c.damage("root page %d, high water mark %d", m.root, c.hwm)
	}
	if need := int64(c.hwm) * ps; need > c.size || need/ps != int64(c.hwm) {
		return c.damage("%d pages of %d bytes in a file of %d bytes: truncated", c.hwm, ps, c.size)
	}
	c.seen[0], c.seen[1] = true, true
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	return c.bucket(m.root, 0)
}

// page reads page id with its overflow pages, checked against the header
// bbolt reads (Page.FastCheck) and the bounds of the file.
func (c *checker) page(id uint64, want uint16) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, c.damage("page id %d outside 2..%d", id, c.hwm-1)
	}
	hdr := make([]byte, pageHeaderSize)
	if err := c.readAt(hdr, int64(id)*c.pageSize); err != nil {
		return nil, err
	}
	if got := ne.Uint64(hdr); got != id {
		return nil, c.damage("page %d identifies itself as %d", id, got)
	}
	flags, overflow := ne.Uint16(hdr[8:]), uint64(ne.Uint32(hdr[12:]))
	if flags != want && !(want == branchFlag|leafFlag && (flags == branchFlag || flags == leafFlag)) {
		return nil, c.damage("page %d has flags %#x", id, flags)
	}
	if id+overflow >= c.hwm {
		return nil, c.damage("page %d overflows %d pages past the high water mark %d", id, overflow, c.hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if c.seen[i] {
			return nil, c.damage("page %d referenced twice", i)
		}
		c.seen[i] = true
	}
	c.pages++
	buf := make([]byte, int64(overflow+1)*c.pageSize)
	if err := c.readAt(buf, int64(id)*c.pageSize); err != nil {
		return nil, err
	}
	return buf, nil
}

func (c *checker) freelist(id uint64) error {
	buf, err := c.page(id, freelistFlag)
	if err != nil {
		return err
	}
	count, idx := uint64(ne.Uint16(buf[10:])), uint64(0)
	if count == 0xFFFF { // the count is the first element
		if pageHeaderSize+8 > len(buf) {
			return c.damage("freelist page %d too short", id)
		}
		count, idx = ne.Uint64(buf[pageHeaderSize:]), 1
	}
	if count > uint64(len(buf)) || pageHeaderSize+(idx+count)*8 > uint64(len(buf)) {
		return c.damage("freelist page %d: %d ids do not fit", id, count)
	}
	for i := idx; i < idx+count; i++ {
		if pg := ne.Uint64(buf[pageHeaderSize+i*8:]); pg < 2 || pg >= c.hwm {
			return c.damage("freelist page %d names page %d outside 2..%d", id, pg, c.hwm-1)
		}
	}
	return nil
}

// bucket checks the tree of a bucket whose root page is root, depth
// buckets deep.
func (c *checker) bucket(root uint64, depth int) error {
	if depth > 64 {
		return c.damage("buckets nested deeper than 64")
	}
	buf, err := c.page(root, branchFlag|leafFlag)
	if err != nil {
		return err
	}
	return c.node(buf, root, depth)
}

// node checks the elements of a branch or leaf page held in buf (an
// inline bucket's page is the rest of its value: id 0).
func (c *checker) node(buf []byte, id uint64, depth int) error {
	if len(buf) < pageHeaderSize {
		return c.damage("page %d shorter than its header", id)
	}
	flags, count := ne.Uint16(buf[8:]), int(ne.Uint16(buf[10:]))
	if pageHeaderSize+count*elemSize > len(buf) {
		return c.damage("page %d: %d elements do not fit", id, count)
	}
	switch flags {
	case branchFlag:
		if count == 0 {
			return c.damage("branch page %d without elements", id)
		}
		for i := 0; i < count; i++ {
			at := pageHeaderSize + i*elemSize
			pos, ksize, child := int(ne.Uint32(buf[at:])), int(ne.Uint32(buf[at+4:])), ne.Uint64(buf[at+8:])
			if ksize == 0 || at+pos+ksize > len(buf) || at+pos+ksize < at {
				return c.damage("page %d element %d: key of %d bytes at %d outside the page", id, i, ksize, pos)
			}
			sub, err := c.page(child, branchFlag|leafFlag)
			if err != nil {
				return err
			}
			if err := c.node(sub, child, depth); err != nil {
				return err
			}
		}
	case leafFlag:
		for i := 0; i < count; i++ {
			at := pageHeaderSize + i*elemSize
			eflags, pos, ksize, vsize := ne.Uint32(buf[at:]), int(ne.Uint32(buf[at+4:])), int(ne.Uint32(buf[at+8:])), int(ne.Uint32(buf[at+12:]))
			end := at + pos + ksize + vsize
			if ksize == 0 || end > len(buf) || end < at {
				return c.damage("page %d element %d: key of %d and value of %d bytes at %d outside the page", id, i, ksize, vsize, pos)
			}
			if eflags&bucketLeafFlag == 0 {
				continue
			}
			v := buf[at+pos+ksize : end]
			if len(v) < bucketSize {
				return c.damage("page %d element %d: bucket header of %d bytes", id, i, len(v))
			}
			if sub := ne.Uint64(v); sub != 0 {
				if err := c.bucket(sub, depth+1); err != nil {
					return err
				}
				continue
			}
			inline := v[bucketSize:]
			if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafFlag {
				return c.damage("page %d element %d: inline bucket without a leaf page", id, i)
			}
			if depth+1 > 64 {
				return c.damage("buckets nested deeper than 64")
			}
			if err := c.node(inline, 0, depth+1); err != nil {
				return err
			}
		}
	default:
		return c.damage("page %d has flags %#x", id, flags)
	}
	return nil
}
