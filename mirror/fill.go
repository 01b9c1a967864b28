package mirror

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/time/rate"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/s3api"
)

// fill is one upstream GET of a whole object into a file under tmp/. Every reader
// of the object while it runs, the first one included, reads that file as it
// grows; so there is one upstream GET however many clients ask at once.
//
// A fill runs on a context of its own, a child of the cache's rather than of the
// client that started it, so that one client going away does not break the
// transfer for the others. When every reader has gone the fill still finishes:
// the bytes are on their way already and the next request (often the same client
// retrying) is then served from disk. Two exceptions cancel it instead: an object
// too large to be kept (MaxBytes), whose bytes would be thrown away, and a fill
// that only Syncs wanted when every one of them has been cancelled.
type fill struct {
	ek       entryKey
	up       Upstream
	gen      uint64 // the upstream's generation when the fill started (see Forget)
	tmp      string // the file being written
	w        *os.File
	cancel   context.CancelCauseFunc
	limiter  atomic.Pointer[rate.Limiter] // a Sync's bandwidth cap, lifted once a client reads
	finished chan struct{}                // closed once stored, discarded or failed

	// guarded by Cache.mu
	readers int    // open Get readers
	syncers int    // Syncs waiting for it
	keep    bool   // a client asked for it: finish even when everyone has gone
	entry   *entry // the stored object once committed; its readers count from then on

	mu      sync.Mutex
	ready   bool             // the upstream answered and info is set
	info    s3api.ObjectInfo // Size is -1 when the upstream gave no length
	written int64
	done    bool
	err     error
	wake    chan struct{} // closed and replaced on every change
}

// fillState is a consistent snapshot of a fill's progress.
type fillState struct {
	ready   bool
	info    s3api.ObjectInfo
	written int64
	done    bool
	err     error
	wake    <-chan struct{}
}

func (f *fill) state() fillState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fillState{ready: f.ready, info: f.info, written: f.written, done: f.done, err: f.err, wake: f.wake}
}

// update changes the fill's progress under its lock and wakes every waiter.
func (f *fill) update(change func()) {
	f.mu.Lock()
	change()
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

func (f *fill) finish(err error) {
	f.update(func() {
		f.done = true
		f.err = err
		close(f.finished)
	})
}

// waitFor blocks until cond holds, the fill fails, or ctx ends.
func (f *fill) waitFor(ctx context.Context, op string, cond func(fillState) bool) (fillState, error) {
	for {
		s := f.state()
		if s.err != nil {
			return s, s.err
		}
		if cond(s) {
			return s, nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return s, cancelled(op, ctx)
		}
	}
}

func cancelled(op string, ctx context.Context) error {
	return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "request cancelled", Err: context.Cause(ctx)}
}

// Get streams length bytes of an object from offset (length -1: to the end). A
// cached object is read from disk. A cold one is fetched whole from the upstream
// by a fill that this call starts or joins, and read as the fill writes it.
//
// A range of a cold object is served from that same fill once the fill reaches
// the offset, rather than by a ranged request of its own: the object gets cached
// and the upstream sees one GET, at the price of waiting for the bytes before the
// offset. Get returns when the first byte wanted is there (or the object ends), so
// that an upstream error is Get's error rather than a broken stream; after that the
// reader fails, never ending early, if the fill fails, and stops when ctx ends.
func (c *Cache) Get(ctx context.Context, up Upstream, key string, offset, length int64) (io.ReadCloser, error) {
	const op = "mirror.Get"
	if err := validKey(key, false); err != nil {
		return nil, invalidKey(op, err)
	}
	if offset < 0 || length < -1 {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "range", Message: "offset is not negative and length is -1 or more"})
	}
	cl, err := c.client(op, up)
	if err != nil {
		return nil, err
	}
	ek := entryKey{up.Name, key}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, closedError(op)
	}
	if e := c.index[ek]; e != nil {
		r, err := c.openCachedLocked(ctx, e, offset, length)
		if r != nil || err != nil {
			c.mu.Unlock()
			return r, err
		}
		// The file vanished under the index (removed by hand): fetch it again.
	}
	c.stats.Misses++
	f := c.fills[ek]
	if f == nil {
		if f, err = c.startFillLocked(cl, ek, nil); err != nil {
			c.mu.Unlock()
			return nil, dataport.Internal(op, err)
		}
	}
	f.readers++
	f.keep = true
	// A client is waiting for these bytes: a Sync's bandwidth cap no longer applies.
	f.limiter.Store(nil)
	file, err := os.Open(f.tmp)
	if err != nil {
		c.leaveFillLocked(f, true)
		c.mu.Unlock()
		return nil, dataport.Internal(op, err)
	}
	c.mu.Unlock()

	r := &fillReader{c: c, f: f, file: file, ctx: ctx, pos: offset, end: -1}
	if length >= 0 {
		r.end = offset + length
	}
	s, err := f.waitFor(ctx, op, func(s fillState) bool { return s.ready || s.done })
	if err == nil && s.info.Size >= 0 {
		err = checkRange(op, s.info.Size, offset, length)
	}
	if err == nil {
		_, err = f.waitFor(ctx, op, func(s fillState) bool { return s.done || s.written > offset })
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func checkRange(op string, size, offset, length int64) error {
	if offset > size || (length >= 0 && offset+length > size) {
		return dataport.Errorf(op, dataport.KindInvalid, "range %d+%d outside the object's %d bytes", offset, length, size)
	}
	return nil
}

// openCachedLocked opens a complete object. It returns nil, nil when the file is
// missing, after dropping the entry.
func (c *Cache) openCachedLocked(ctx context.Context, e *entry, offset, length int64) (io.ReadCloser, error) {
	const op = "mirror.Get"
	size := e.info.Size
	if err := checkRange(op, size, offset, length); err != nil {
		return nil, err
	}
	file, err := os.Open(c.dataPath(e.ek))
	if errors.Is(err, os.ErrNotExist) {
		c.dropLocked(e)
		return nil, nil
	}
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	if offset > 0 {
		if _, err := file.Seek(offset, io.SeekStart); err != nil {
			file.Close()
			return nil, dataport.Internal(op, err)
		}
	}
	n := size - offset
	if length >= 0 {
		n = length
	}
	e.readers++
	c.lru.MoveToFront(e.elem)
	c.stats.Hits++
	if now := c.now(); now.Sub(e.touched) >= touchEvery || now.Before(e.touched) {
		e.touched = now
		os.Chtimes(c.sidecarPath(e.ek), now, now)
	}
	return &fileReader{c: c, e: e, file: file, ctx: ctx, r: &io.LimitedReader{R: file, N: n}}, nil
}

// fileReader reads a range of a complete object.
type fileReader struct {
	c    *Cache
	e    *entry
	file *os.File
	ctx  context.Context
	r    *io.LimitedReader // N: bytes still to come
	once sync.Once
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.ctx.Err() != nil {
		return 0, cancelled("mirror.Get", r.ctx)
	}
	n, err := r.r.Read(p)
	if err == io.EOF && r.r.N > 0 {
		err = shortFile()
	}
	return n, err
}

// WriteTo hands the writer the file itself (as an io.LimitedReader of an
// *os.File), so that an HTTP response copies it with sendfile, without passing
// the bytes through user space.
func (r *fileReader) WriteTo(w io.Writer) (int64, error) {
	if r.ctx.Err() != nil {
		return 0, cancelled("mirror.Get", r.ctx)
	}
	n, err := io.Copy(w, r.r)
	if err == nil && r.r.N > 0 {
		err = shortFile()
	}
	return n, err
}

// shortFile is the error of a file shorter than its sidecar says: the reader
// fails rather than ends early.
func shortFile() error { return dataport.Internal("mirror.Get", io.ErrUnexpectedEOF) }

func (r *fileReader) Close() error {
	var err error
	r.once.Do(func() {
		err = r.file.Close()
		r.c.mu.Lock()
		r.e.readers--
		if r.e.readers == 0 {
			r.c.evictLocked()
		}
		r.c.mu.Unlock()
	})
	return err
}

// fillReader reads a range of an object from the file its fill is writing,
// waiting for bytes that have not arrived yet.
type fillReader struct {
	c    *Cache
	f    *fill
	file *os.File
	ctx  context.Context
	pos  int64 // next byte to read
	end  int64 // first byte not to read, -1: the end of the object
	once sync.Once
}

func (r *fillReader) Read(p []byte) (int, error) {
	const op = "mirror.Get"
	if len(p) == 0 {
		return 0, nil
	}
	if r.ctx.Err() != nil {
		return 0, cancelled(op, r.ctx)
	}
	for {
		s := r.f.state()
		if s.err != nil {
			// Bytes of a failed fill are suspect: none are served once it has failed.
			return 0, s.err
		}
		objEnd := int64(-1) // unknown yet
		if s.done {
			objEnd = s.written
		} else if s.ready && s.info.Size >= 0 {
			objEnd = s.info.Size
		}
		end := r.end
		if end < 0 {
			end = objEnd
		}
		// A reader that reaches the end of the object ends only once the fill has
		// checked and stored it, so that a transfer that proves corrupt at the last
		// byte still fails, and a client that got everything finds the object
		// cached. A range that stops short of the end cannot wait for that.
		if end >= 0 && r.pos >= end && (s.done || (objEnd < 0 && s.written > end) || (objEnd >= 0 && end < objEnd)) {
			return 0, io.EOF
		}
		if r.pos < s.written {
			n := min(int64(len(p)), s.written-r.pos)
			if end >= 0 {
				n = min(n, end-r.pos)
			}
			k, err := r.file.ReadAt(p[:n], r.pos)
			r.pos += int64(k)
			if err != nil && !(err == io.EOF && int64(k) == n) {
				return k, dataport.Internal(op, err)
			}
			return k, nil
		}
		if s.done {
			return 0, dataport.Errorf(op, dataport.KindInvalid, "the object ends at %d bytes, before the range", s.written)
		}
		select {
		case <-s.wake:
		case <-r.ctx.Done():
			return 0, cancelled(op, r.ctx)
		}
	}
}

func (r *fillReader) Close() error {
	var err error
	r.once.Do(func() {
		err = r.file.Close()
		r.c.mu.Lock()
		r.c.leaveFillLocked(r.f, true)
		r.c.mu.Unlock()
	})
	return err
}

// startFillLocked creates the temp file and starts fetching. limiter, when not
// nil, caps the fill's bandwidth (a Sync's).
func (c *Cache) startFillLocked(cl *upstreamClient, ek entryKey, limiter *rate.Limiter) (*fill, error) {
	w, err := os.CreateTemp(c.tmpDir(), "fill-*")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	f := &fill{
		ek:       ek,
		up:       cl.up,
		gen:      c.gen[ek.name],
		tmp:      w.Name(),
		w:        w,
		cancel:   cancel,
		finished: make(chan struct{}),
		wake:     make(chan struct{}),
	}
	if limiter != nil {
		f.limiter.Store(limiter)
	}
	c.fills[ek] = f
	c.fillWG.Add(1)
	go c.runFill(ctx, f, cl)
	return f, nil
}

// leaveFillLocked records that a reader (or a Sync) no longer wants the fill, and
// cancels the fill when nobody is left who wants it finished (see fill).
func (c *Cache) leaveFillLocked(f *fill, reader bool) {
	if reader {
		if f.entry != nil {
			f.entry.readers--
			if f.entry.readers == 0 {
				c.evictLocked()
			}
			return
		}
		f.readers--
	} else {
		f.syncers--
	}
	if f.readers > 0 || f.syncers > 0 || c.fills[f.ek] != f {
		return
	}
	s := f.state()
	tooLarge := c.maxBytes > 0 && s.ready && s.info.Size > c.maxBytes
	if !f.keep || tooLarge {
		f.cancel(errDropped)
	}
}

func (c *Cache) runFill(ctx context.Context, f *fill, cl *upstreamClient) {
	defer c.fillWG.Done()
	defer f.cancel(nil)
	sc, err := c.fetch(ctx, f, cl)
	if cerr := f.w.Close(); err == nil && cerr != nil {
		err = dataport.Internal("mirror.Get", cerr)
	}
	if err == nil {
		err = c.commit(f, sc)
	}
	if err != nil {
		c.mu.Lock()
		if c.fills[f.ek] == f {
			delete(c.fills, f.ek)
		}
		c.mu.Unlock()
		// Removed before the readers hear of the failure, so that nothing of a
		// failed fill is left once they have.
		os.Remove(f.tmp)
		f.finish(err)
	}
}

var plainMD5 = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// md5ETag reports whether the ETag is the MD5 of the content: a single-part
// upload (multipart ETags end in -N) not encrypted with KMS or a customer key
// (whose ETags are not MD5s).
func md5ETag(etag string, h http.Header) bool {
	if !plainMD5.MatchString(etag) {
		return false
	}
	switch strings.ToLower(h.Get("X-Amz-Server-Side-Encryption")) {
	case "aws:kms", "aws:kms:dsse":
		return false
	}
	return h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") == ""
}

// fetch GETs the whole object into the fill's file, hashing as it goes, and checks
// what arrived against what the upstream said: the length, the MD5 where the ETag
// is one, and any full-object checksum the upstream sends (the S3 client checks
// those). The file is synced before fetch returns.
func (c *Cache) fetch(ctx context.Context, f *fill, cl *upstreamClient) (sidecar, error) {
	const op = "mirror.Get"
	upKey := f.up.upstreamKey(f.ek.key)
	body, oi, hdr, err := cl.core.GetObject(ctx, f.up.Bucket, upKey, minio.GetObjectOptions{Checksum: true})
	c.mu.Lock()
	c.stats.Fetches++
	c.mu.Unlock()
	if err != nil {
		return sidecar{}, fillError(ctx, op, f, err)
	}
	defer body.Close()
	info := objectInfo(f.ek.key, oi)
	f.update(func() { f.ready, f.info = true, info })

	sha, sum5 := sha256.New(), md5.New()
	buf := make([]byte, 128<<10)
	stall := time.AfterFunc(c.stall, func() { f.cancel(errStalled) })
	defer stall.Stop()
	var n int64
	for {
		chunk := buf
		lim := f.limiter.Load()
		if lim != nil && lim.Burst() < len(chunk) {
			chunk = chunk[:max(lim.Burst(), 1)]
		}
		stall.Reset(c.stall)
		k, rerr := body.Read(chunk)
		if k > 0 {
			if _, err := f.w.Write(chunk[:k]); err != nil {
				return sidecar{}, dataport.Internal(op, err)
			}
			sha.Write(chunk[:k])
			sum5.Write(chunk[:k])
			n += int64(k)
			c.fetchedBytes.Add(int64(k))
			f.update(func() { f.written = n })
			if lim != nil {
				stall.Stop()
				if err := lim.WaitN(ctx, k); err != nil {
					return sidecar{}, fillError(ctx, op, f, err)
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() == nil && strings.HasPrefix(rerr.Error(), "checksum mismatch") {
				// The S3 client's check of a full-object checksum the upstream sent.
				return sidecar{}, corrupt(op, f, rerr.Error())
			}
			return sidecar{}, fillError(ctx, op, f, rerr)
		}
	}
	stall.Stop()

	want := info.Size
	if want < 0 {
		// No Content-Length (a chunked answer): the length to check comes from a HEAD,
		// which must describe the same object.
		st, err := cl.core.StatObject(ctx, f.up.Bucket, upKey, statOptions())
		c.mu.Lock()
		c.stats.Heads++
		c.mu.Unlock()
		if err != nil {
			return sidecar{}, fillError(ctx, op, f, err)
		}
		if objectInfo(f.ek.key, st).ETag != info.ETag {
			return sidecar{}, corrupt(op, f, "the object changed upstream while it was fetched")
		}
		want = st.Size
	}
	if n != want {
		return sidecar{}, corrupt(op, f, fmt.Sprintf("the upstream sent %d bytes of %d", n, want))
	}
	if md5ETag(info.ETag, hdr) {
		if got := hex.EncodeToString(sum5.Sum(nil)); got != strings.ToLower(info.ETag) {
			return sidecar{}, corrupt(op, f, "the bytes do not match the upstream's ETag (MD5 "+got+")")
		}
	}
	if err := f.w.Sync(); err != nil {
		return sidecar{}, dataport.Internal(op, err)
	}
	return sidecar{
		Key:          f.ek.key,
		Size:         n,
		ETag:         info.ETag,
		SHA256:       hex.EncodeToString(sha.Sum(nil)),
		LastModified: info.LastModified,
		ContentType:  info.ContentType,
		Stored:       c.now().UTC(),
	}, nil
}

// fillError explains why a fill failed: the cache closing, a stalled upstream, no
// one left who wants it, or the upstream's own error.
func fillError(ctx context.Context, op string, f *fill, err error) error {
	if ctx.Err() != nil {
		switch cause := context.Cause(ctx); cause {
		case errClosed:
			return closedError(op)
		case errStalled:
			return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "upstream " + f.up.Name + " stalled", Err: cause}
		case errDropped:
			return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "fetch abandoned", Err: cause}
		}
	}
	return upstreamError(op, f.up, f.ek.key, err)
}

func corrupt(op string, f *fill, msg string) error {
	return dataport.Errorf(op, dataport.KindUnavailable, "upstream %s sent %q incomplete or corrupt: %s", f.up.Name, f.ek.key, msg)
}

// commit makes a checked fill visible: the sidecar is written aside, then the
// object and its sidecar are renamed into objects/ and indexed, all under the
// cache's lock so that no Get sees one without the other. A fill is not stored
// (its readers still get every byte) when the cache is closing, its upstream was
// forgotten meanwhile, or the object alone exceeds MaxBytes.
func (c *Cache) commit(f *fill, sc sidecar) error {
	const op = "mirror.Get"
	scTmp, err := writeTemp(c.tmpDir(), "sidecar-*", sc)
	if err != nil {
		return dataport.Internal(op, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || f.gen != c.gen[f.ek.name] || (c.maxBytes > 0 && sc.Size > c.maxBytes) {
		os.Remove(scTmp)
		os.Remove(f.tmp)
		delete(c.fills, f.ek)
		f.finish(nil)
		return nil
	}
	if old := c.index[f.ek]; old != nil {
		// A refresh (Sync found the upstream's copy changed): readers of the old
		// bytes keep their open file.
		c.dropLocked(old)
	}
	data, side := c.dataPath(f.ek), c.sidecarPath(f.ek)
	err = os.MkdirAll(filepath.Dir(data), 0o750)
	if err == nil {
		err = os.Rename(f.tmp, data)
	}
	if err == nil {
		err = os.Rename(scTmp, side)
	}
	if err != nil {
		os.Remove(scTmp)
		os.Remove(side)
		os.Remove(data)
		return dataport.Internal(op, err)
	}
	now := c.now()
	e := &entry{ek: f.ek, info: sc.info(), touched: now, readers: f.readers}
	os.Chtimes(side, now, now)
	e.elem = c.lru.PushFront(e)
	c.index[f.ek] = e
	c.total += e.info.Size
	f.entry = e
	delete(c.fills, f.ek)
	f.finish(nil)
	c.evictLocked()
	return nil
}

// writeTemp writes v as JSON to a synced new file in dir.
func writeTemp(dir, pattern string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	t, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = t.Write(b)
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(t.Name())
		return "", err
	}
	return t.Name(), nil
}
