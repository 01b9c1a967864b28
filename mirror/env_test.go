package mirror

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport/internal/testenv"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The tests that need an upstream run against a real S3-compatible server named
// by DATAPORT_TEST_S3 (http://ACCESS:SECRET@host:port/bucket). Each test makes a
// bucket of its own on it (or, where the server refuses, a prefix of its own in
// the named bucket) and reaches it through a proxy that counts requests and
// injects faults.
const envS3 = "DATAPORT_TEST_S3"

type testEnv struct {
	t      testing.TB
	direct *minio.Client // straight to the server, for setting up
	tr     *http.Transport
	bucket string
	prefix string // set when the bucket is shared
	proxy  *proxy
	data   map[string][]byte // what was uploaded, by the key the mirror shows
}

// newEnv connects to the test server, or skips the test when there is none. It
// also checks that the test leaves no goroutine behind.
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	raw := os.Getenv(envS3)
	if raw == "" {
		testenv.Missing(t, envS3+" is not set (http://ACCESS:SECRET@host:port/bucket of an S3-compatible server); skipping the tests that need an upstream")
	}
	checkGoroutines(t)
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		t.Fatalf("%s: want http://ACCESS:SECRET@host:port/bucket", envS3)
	}
	secret, _ := u.User.Password()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}
	direct, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(u.User.Username(), secret, ""),
		Secure:       u.Scheme == "https",
		Transport:    tr,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, direct: direct, tr: tr, data: map[string][]byte{}}
	ctx := context.Background()
	e.bucket = "mirror-test-" + randomHex(6)
	if err := direct.MakeBucket(ctx, e.bucket, minio.MakeBucketOptions{}); err != nil {
		shared := strings.Trim(u.Path, "/")
		if shared == "" {
			t.Fatalf("cannot make a test bucket (%v) and %s names none", err, envS3)
		}
		e.bucket, e.prefix = shared, "mirror-test-"+randomHex(6)+"/"
	}
	t.Cleanup(func() {
		for o := range direct.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Prefix: e.prefix, Recursive: true}) {
			if o.Err == nil {
				direct.RemoveObject(ctx, e.bucket, o.Key, minio.RemoveObjectOptions{})
			}
		}
		if e.prefix == "" {
			direct.RemoveBucket(ctx, e.bucket)
		}
		tr.CloseIdleConnections()
	})
	e.proxy = newProxy(t, u.Host)
	return e
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// put uploads an object in a single PUT (its ETag is the MD5).
func (e *testEnv) put(key string, data []byte) {
	e.t.Helper()
	_, err := e.direct.PutObject(context.Background(), e.bucket, e.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		e.t.Fatalf("put %q: %v", key, err)
	}
	e.data[key] = data
}

// putMultipart uploads an object in parts (its ETag ends in -N) and returns the
// ETag.
func (e *testEnv) putMultipart(key string, parts ...[]byte) string {
	e.t.Helper()
	ctx := context.Background()
	core := minio.Core{Client: e.direct}
	id, err := core.NewMultipartUpload(ctx, e.bucket, e.prefix+key, minio.PutObjectOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var done []minio.CompletePart
	var all []byte
	for i, p := range parts {
		part, err := core.PutObjectPart(ctx, e.bucket, e.prefix+key, id, i+1, bytes.NewReader(p), int64(len(p)), minio.PutObjectPartOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		done = append(done, minio.CompletePart{PartNumber: i + 1, ETag: part.ETag})
		all = append(all, p...)
	}
	info, err := core.CompleteMultipartUpload(ctx, e.bucket, e.prefix+key, id, done, minio.PutObjectOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.data[key] = all
	return info.ETag
}

// upstream is the test bucket as an upstream named name, reached through the
// proxy.
func (e *testEnv) upstream(name string) Upstream {
	u, _ := url.Parse(os.Getenv(envS3))
	secret, _ := u.User.Password()
	return Upstream{
		Name:      name,
		Endpoint:  e.proxy.addr(),
		Bucket:    e.bucket,
		Prefix:    e.prefix,
		AccessKey: u.User.Username(),
		SecretKey: secret,
	}
}

// openCache opens a cache in a fresh directory and, when the test ends, closes it
// and checks that no temp file is left.
func (e *testEnv) openCache(opts Options) (*Cache, string) {
	return openTestCache(e.t, e.t.TempDir(), opts)
}

func openTestCache(t testing.TB, dir string, opts Options) (*Cache, string) {
	t.Helper()
	c, err := OpenCache(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		assertNoTemp(t, dir)
	})
	return c, dir
}

func assertNoTemp(t testing.TB, dir string) {
	t.Helper()
	left, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		t.Errorf("left in tmp/: %s", l.Name())
	}
}

// checkGoroutines fails the test when, once it is cleaned up, more goroutines run
// than before it started (allowing a moment for exiting ones to finish).
func checkGoroutines(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// proxy stands between the cache and the S3 server. It forwards requests as they
// are (the Host header included, which the signatures cover), counts them, and on
// object GETs can add latency, cap the bandwidth, cut the connection after some
// bytes, end the body early but cleanly, or flip a byte.
type proxy struct {
	srv    *httptest.Server
	target string
	tr     *http.Transport

	mu         sync.Mutex
	gets       map[string]int // object GETs by upstream key
	lists      int            // ListObjectsV2 requests
	heads      int
	latency    time.Duration // before each request is forwarded
	rate       int64         // bytes per second of object bodies, 0: unlimited
	cutAfter   int64         // with cuts > 0: bytes of a body sent before the fault
	cuts       int           // how many object GETs still get the fault
	cleanCut   bool          // the fault ends the body cleanly, without Content-Length
	noSums     bool          // faulty answers carry no x-amz-checksum-* headers
	corruptAt  int64         // with corrupts > 0: the byte flipped
	corrupts   int
	holdBodies chan struct{} // when set, object bodies wait for it to close
}

func newProxy(t testing.TB, target string) *proxy {
	p := &proxy{
		target: target,
		tr:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		gets:   map[string]int{},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

func (p *proxy) addr() string { return strings.TrimPrefix(p.srv.URL, "http://") }

func (p *proxy) getCount(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gets[key]
}

func (p *proxy) totalGets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.gets {
		n += v
	}
	return n
}

func (p *proxy) headCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heads
}

// gets counts the upstream GETs of an object by the key the mirror shows.
func (e *testEnv) gets(key string) int { return e.proxy.getCount(e.prefix + key) }

func (p *proxy) listCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lists
}

func (p *proxy) set(change func(p *proxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change(p)
}

type fault struct {
	rate      int64
	cutAfter  int64
	cut       bool
	cleanCut  bool
	corruptAt int64
	corrupt   bool
	noSums    bool
	hold      chan struct{}
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	// Path style: /bucket/key. Anything without a key is a bucket request.
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	object := key != ""
	p.mu.Lock()
	latency := p.latency
	var f fault
	switch {
	case r.Method == http.MethodGet && object:
		p.gets[key]++
		f.rate, f.hold = p.rate, p.holdBodies
		if p.cuts > 0 {
			p.cuts--
			f.cut, f.cutAfter, f.cleanCut = true, p.cutAfter, p.cleanCut
		}
		if p.corrupts > 0 {
			p.corrupts--
			f.corrupt, f.corruptAt = true, p.corruptAt
		}
		f.noSums = (f.cut || f.corrupt) && p.noSums
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		p.lists++
	case r.Method == http.MethodHead:
		p.heads++
	}
	p.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.RequestURI, out.Host = "http", p.target, "", r.Host
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.cut && f.cleanCut {
		w.Header().Del("Content-Length")
	}
	if f.noSums {
		// As from an upstream that keeps no checksums (objects stored before S3
		// computed them): only the length and the ETag are left to check.
		for k := range w.Header() {
			if strings.HasPrefix(k, "X-Amz-Checksum") {
				w.Header().Del(k)
			}
		}
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	if f.hold != nil {
		w.(http.Flusher).Flush()
		select {
		case <-f.hold:
		case <-r.Context().Done():
			return
		}
	}
	start := time.Now()
	var sent int64
	buf := make([]byte, 16<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		chunk := buf[:n]
		if f.corrupt && f.corruptAt >= sent && f.corruptAt < sent+int64(n) {
			chunk[f.corruptAt-sent] ^= 0xff
		}
		if f.cut && sent+int64(len(chunk)) > f.cutAfter {
			w.Write(chunk[:f.cutAfter-sent])
			w.(http.Flusher).Flush()
			if f.cleanCut {
				return // a chunked body that ends early, cleanly
			}
			panic(http.ErrAbortHandler) // the connection drops mid-body
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		sent += int64(n)
		if f.rate > 0 {
			w.(http.Flusher).Flush()
			due := start.Add(time.Duration(float64(sent) / float64(f.rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
		}
		if rerr != nil {
			return
		}
	}
}

// readAll reads a Get's reader to the end and closes it.
func readAll(t testing.TB, r io.ReadCloser) ([]byte, error) {
	t.Helper()
	defer r.Close()
	return io.ReadAll(r)
}
