package finance

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// spool keeps a batch's valid orders between reading and applying: a batch is
// read and checked to its last byte before anything is written, so that a batch
// that breaks off leaves nothing. Orders are kept in memory up to spoolMemory and
// in a temporary file beyond, so a batch of any size takes bounded memory.
type spool struct {
	dir  string
	mem  bytes.Buffer
	file *os.File
	w    *bufio.Writer
	n    int64
	buf  []byte

	r   *bufio.Reader
	rec []byte
}

const spoolMemory = 8 << 20

func newSpool(dir string) *spool { return &spool{dir: dir} }

// put appends o.
func (s *spool) put(o *order) error {
	b := s.buf[:0]
	b = binary.AppendVarint(b, o.line)
	b = binary.AppendUvarint(b, uint64(o.shop))
	b = binary.AppendUvarint(b, uint64(len(o.id)))
	b = append(b, o.id...)
	b = binary.AppendVarint(b, o.orderedAt)
	b = binary.AppendVarint(b, o.amount)
	b = append(b, o.cur, o.status, boolByte(o.complaint), byte(o.rating))
	b = binary.AppendVarint(b, o.refund)
	b = binary.AppendVarint(b, o.shippedAt)
	b = binary.AppendVarint(b, o.deliveredAt)
	b = binary.AppendVarint(b, int64(o.settleOn))
	b = binary.AppendVarint(b, o.settledAt)
	b = binary.AppendVarint(b, o.updatedAt)
	s.buf = b
	var hdr [binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(hdr[:0], uint64(len(b)))
	s.n++
	if s.file == nil && s.mem.Len()+len(h)+len(b) > spoolMemory {
		f, err := os.CreateTemp(s.dir, "finance-batch-*")
		if err != nil {
			return err
		}
		// Unlinked at once, the file lives as long as it is open: a process that
		// dies mid-batch leaves nothing in the spool. (Where an open file cannot be
		// removed, close removes it.)
		os.Remove(f.Name())
		s.file, s.w = f, bufio.NewWriterSize(f, 1<<16)
		if _, err := s.w.Write(s.mem.Bytes()); err != nil {
			return err
		}
		s.mem = bytes.Buffer{}
	}
	var w io.Writer = &s.mem
	if s.w != nil {
		w = s.w
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// rewind starts reading the orders back from the first.
func (s *spool) rewind() error {
	if s.file == nil {
		s.r = bufio.NewReader(bytes.NewReader(s.mem.Bytes()))
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.r = bufio.NewReaderSize(s.file, 1<<16)
	return nil
}

var errSpool = errors.New("spooled order is corrupt")

// next reads the next order into o; false at the end.
func (s *spool) next(o *order) (bool, error) {
	size, err := binary.ReadUvarint(s.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if uint64(cap(s.rec)) < size {
		s.rec = make([]byte, size)
	}
	b := s.rec[:size]
	if _, err := io.ReadFull(s.r, b); err != nil {
		return false, err
	}
	d := decoder{b: b}
	o.line = d.varint()
	o.shop = int32(d.uvarint())
	o.id = string(d.bytes(int(d.uvarint())))
	o.orderedAt = d.varint()
	o.amount = d.varint()
	if st := d.bytes(4); len(st) == 4 {
		o.cur, o.status, o.complaint, o.rating = st[0], st[1], st[2] == 1, int8(st[3])
	}
	o.refund = d.varint()
	o.shippedAt = d.varint()
	o.deliveredAt = d.varint()
	o.settleOn = int32(d.varint())
	o.settledAt = d.varint()
	o.updatedAt = d.varint()
	if d.bad || o.cur == 0 || int(o.cur) >= len(currencyCodes) {
		return false, errSpool
	}
	return true, nil
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if n > len(d.b) {
		d.bad = true
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

// close removes the spool's file.
func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
}
