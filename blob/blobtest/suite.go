// Package blobtest is the one test suite every blob.Store backend passes.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
)

// Run runs the suite against stores made by open; each subtest gets a fresh store.
// leftovers, when not nil, lists what a store holds of unfinished uploads: after a
// refused or broken Put it must be empty.
func Run(t *testing.T, open func(t *testing.T) blob.Store, leftovers func(s blob.Store) []string) {
	ctx := context.Background()
	sum := func(b []byte) string {
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	}
	noLeftovers := func(t *testing.T, s blob.Store) {
		t.Helper()
		if leftovers == nil {
			return
		}
		if l := leftovers(s); len(l) > 0 {
			t.Fatalf("unfinished uploads left behind: %v", l)
		}
	}

	t.Run("put, stat, open, read back", func(t *testing.T) {
		s := open(t)
		content := bytes.Repeat([]byte("第三方合规评估报告 compliance assessment\n"), 5000)
		info, err := s.Put(ctx, bytes.NewReader(content), 1<<20, "")
		if err != nil {
			t.Fatal(err)
		}
		if info.SHA256 != sum(content) || info.Size != int64(len(content)) {
			t.Fatalf("put = %+v, want %s, %d bytes", info, sum(content), len(content))
		}
		st, err := s.Stat(ctx, info.SHA256)
		if err != nil || st.Size != info.Size || st.SHA256 != info.SHA256 {
			t.Fatalf("stat = %+v, %v", st, err)
		}
		o, err := s.Open(ctx, info.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if o.Info().Size != int64(len(content)) {
			t.Fatalf("open info %+v", o.Info())
		}
		got, err := io.ReadAll(o)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(content))
		}
		// Seek for Range requests: the last 10 bytes.
		if _, err := o.Seek(-10, io.SeekEnd); err != nil {
			t.Fatal(err)
		}
		tail, _ := io.ReadAll(o)
		if !bytes.Equal(tail, content[len(content)-10:]) {
			t.Fatalf("tail %q", tail)
		}
		// As http.ServeContent serves a range: size from the end, then an absolute offset.
		if end, err := o.Seek(0, io.SeekEnd); err != nil || end != int64(len(content)) {
			t.Fatalf("seek to the end = %d, %v", end, err)
		}
		if _, err := o.Seek(1000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		middle := make([]byte, 500)
		if _, err := io.ReadFull(o, middle); err != nil || !bytes.Equal(middle, content[1000:1500]) {
			t.Fatalf("bytes 1000-1499: %v", err)
		}
		if _, err := o.Seek(-500, io.SeekCurrent); err != nil {
			t.Fatal(err)
		}
		again, err := io.ReadAll(o)
		if err != nil || !bytes.Equal(again, content[1000:]) {
			t.Fatalf("from 1000 to the end: %d bytes (%v), want %d", len(again), err, len(content)-1000)
		}
		noLeftovers(t, s)
	})

	t.Run("the same content is stored once under one address", func(t *testing.T) {
		s := open(t)
		a, err := s.Put(ctx, strings.NewReader("same"), 100, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Put(ctx, strings.NewReader("same"), 100, sum([]byte("same")))
		if err != nil || b.SHA256 != a.SHA256 || b.Size != 4 {
			t.Fatalf("second put = %+v, %v", b, err)
		}
		empty, err := s.Put(ctx, strings.NewReader(""), 100, "")
		if err != nil || empty.SHA256 != sum(nil) || empty.Size != 0 {
			t.Fatalf("empty put = %+v, %v", empty, err)
		}
		o, err := s.Open(ctx, empty.SHA256)
		if err != nil {
			t.Fatalf("open the empty blob: %v", err)
		}
		got, err := io.ReadAll(o)
		o.Close()
		if err != nil || len(got) != 0 || o.Info().Size != 0 {
			t.Fatalf("the empty blob reads %q (%v), info %+v", got, err, o.Info())
		}
		if _, err := s.Put(ctx, strings.NewReader("same"), 100, "../"+sum([]byte("same"))); dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("put with a malformed expected address: %v, want invalid", err)
		}
		noLeftovers(t, s)
	})

	t.Run("oversized content is refused and nothing is stored", func(t *testing.T) {
		s := open(t)
		content := bytes.Repeat([]byte("x"), 1001)
		_, err := s.Put(ctx, bytes.NewReader(content), 1000, "")
		if dataport.KindOf(err) != dataport.KindTooLarge {
			t.Fatalf("put of 1001 bytes with limit 1000: %v, want too large", err)
		}
		if _, err := s.Stat(ctx, sum(content)); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("oversized blob is there: %v", err)
		}
		if _, err := s.Stat(ctx, sum(content[:1000])); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("the first 1000 bytes of oversized content are stored: %v", err)
		}
		noLeftovers(t, s)
		// A sender that never stops is cut off at the limit, not read to the end.
		endless := &countingReader{}
		if _, err := s.Put(ctx, endless, 100_000, ""); dataport.KindOf(err) != dataport.KindTooLarge {
			t.Fatalf("put of an endless stream: %v, want too large", err)
		}
		if endless.n > 100_001 {
			t.Fatalf("read %d bytes of an endless stream with limit 100000", endless.n)
		}
		noLeftovers(t, s)
		if _, err := s.Put(ctx, bytes.NewReader(content[:1000]), 1000, ""); err != nil {
			t.Fatalf("exactly the limit: %v", err)
		}
		noLeftovers(t, s)
	})

	t.Run("content that does not hash to the expected address is refused", func(t *testing.T) {
		s := open(t)
		_, err := s.Put(ctx, strings.NewReader("tampered"), 100, sum([]byte("original")))
		if dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("put with the wrong hash: %v, want invalid", err)
		}
		for _, c := range []string{"tampered", "original"} {
			if _, err := s.Stat(ctx, sum([]byte(c))); dataport.KindOf(err) != dataport.KindNotFound {
				t.Fatalf("%s is stored: %v", c, err)
			}
		}
		noLeftovers(t, s)
	})

	t.Run("addresses that are not SHA-256 hex are refused, paths included", func(t *testing.T) {
		s := open(t)
		if _, err := s.Put(ctx, strings.NewReader("secret"), 100, ""); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"", "../../etc/passwd", "..", strings.Repeat("A", 64), strings.Repeat("a", 63),
			strings.Repeat("a", 62) + "/x", "sha256/" + sum([]byte("secret")), sum([]byte("secret")) + "/../x"} {
			if _, err := s.Stat(ctx, bad); dataport.KindOf(err) != dataport.KindInvalid {
				t.Errorf("stat %q: %v, want invalid", bad, err)
			}
			if o, err := s.Open(ctx, bad); dataport.KindOf(err) != dataport.KindInvalid {
				if o != nil {
					o.Close()
				}
				t.Errorf("open %q: %v, want invalid", bad, err)
			}
			if err := s.Delete(ctx, bad); dataport.KindOf(err) != dataport.KindInvalid {
				t.Errorf("delete %q: %v, want invalid", bad, err)
			}
		}
		if _, err := s.Open(ctx, sum([]byte("absent"))); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("open of an absent blob: %v, want not found", err)
		}
	})

	t.Run("a blob is invisible until its upload completes", func(t *testing.T) {
		s := open(t)
		content := bytes.Repeat([]byte("partial?"), 4096)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := s.Put(ctx, pr, 1<<20, "")
			done <- err
		}()
		if _, err := pw.Write(content[:len(content)/2]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, sum(content)); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("half-written blob visible: %v", err)
		}
		pw.Write(content[len(content)/2:])
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, sum(content)); err != nil {
			t.Fatalf("complete blob not visible: %v", err)
		}
		noLeftovers(t, s)
	})

	t.Run("a broken upload stores nothing", func(t *testing.T) {
		s := open(t)
		content := bytes.Repeat([]byte("broken off "), 3000)
		half := &failingReader{r: bytes.NewReader(content[:len(content)/2]), err: errors.New("connection reset")}
		if _, err := s.Put(ctx, half, 1<<20, ""); dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("put of content that broke off halfway: %v, want invalid", err)
		}
		for _, c := range [][]byte{content, content[:len(content)/2]} {
			if _, err := s.Stat(ctx, sum(c)); dataport.KindOf(err) != dataport.KindNotFound {
				t.Fatalf("a broken upload left a blob of %d bytes: %v", len(c), err)
			}
		}
		noLeftovers(t, s)

		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := s.Put(ctx, pr, 1<<20, "")
			done <- err
		}()
		pw.Write([]byte("the first half of"))
		pw.CloseWithError(errors.New("connection reset"))
		if err := <-done; dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("a broken upload: %v, want invalid", err)
		}
		if _, err := s.Stat(ctx, sum([]byte("the first half of"))); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("a broken upload left a blob: %v", err)
		}
		noLeftovers(t, s)
		cctx, cancel := context.WithCancel(ctx)
		pr2, pw2 := io.Pipe()
		go func() {
			_, err := s.Put(cctx, pr2, 1<<20, "")
			done <- err
		}()
		pw2.Write([]byte("cancelled midway"))
		cancel()
		// More arrives after the cancellation: Put must stop rather than store it. The
		// writer runs apart, since a stopped Put reads no further.
		go func() {
			pw2.Write([]byte(" and more"))
			pw2.Close()
		}()
		err := <-done
		pr2.Close()
		if dataport.KindOf(err) != dataport.KindUnavailable {
			t.Fatalf("a cancelled upload: %v, want unavailable", err)
		}
		for _, c := range []string{"cancelled midway", "cancelled midway and more"} {
			if _, err := s.Stat(ctx, sum([]byte(c))); dataport.KindOf(err) != dataport.KindNotFound {
				t.Fatalf("a cancelled upload left a blob %q: %v", c, err)
			}
		}
		noLeftovers(t, s)
	})

	t.Run("concurrent puts of the same content", func(t *testing.T) {
		s := open(t)
		content := bytes.Repeat([]byte("contended"), 10000)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				info, err := s.Put(ctx, bytes.NewReader(content), 1<<20, "")
				if err == nil && info.SHA256 != sum(content) {
					err = errors.New("wrong address " + info.SHA256)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		o, err := s.Open(ctx, sum(content))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(o)
		o.Close()
		if !bytes.Equal(got, content) {
			t.Fatalf("read %d bytes, want %d", len(got), len(content))
		}
		noLeftovers(t, s)
		// One blob: a single delete leaves nothing under the address.
		if err := s.Delete(ctx, sum(content)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, sum(content)); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("after one delete: %v, want not found", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := open(t)
		info, err := s.Put(ctx, strings.NewReader("gone soon"), 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, info.SHA256); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, info.SHA256); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("deleted blob: %v", err)
		}
		if err := s.Delete(ctx, info.SHA256); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.Put(ctx, strings.NewReader("gone soon"), 100, info.SHA256); err != nil {
			t.Fatalf("put after delete: %v", err)
		}
		if st, err := s.Stat(ctx, info.SHA256); err != nil || st.Size != info.Size {
			t.Fatalf("stored again: %+v, %v", st, err)
		}
		noLeftovers(t, s)
	})
}

// countingReader yields zeros without end and counts how many were read.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	clear(p)
	r.n += int64(len(p))
	return len(p), nil
}

// failingReader yields what r holds, then fails with err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		err = r.err
	}
	return n, err
}
