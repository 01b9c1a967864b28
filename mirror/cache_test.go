package mirror

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
)

const bigSize = 6<<20 + 12345

// standardObjects uploads the objects most tests use: small ones with Chinese and
// spaces in their keys, a big single-part one, a multipart one, and an empty one.
func standardObjects(e *testEnv) {
	e.put("hello.txt", []byte("hello, mirror\n"))
	e.put("数据/中文 文件 名.csv", []byte("城市,人口\n上海,24870895\n北京,21893095\n"))
	e.put("dir with spaces/a b+c&d.txt", []byte("spaces and signs"))
	e.put("empty", nil)
	e.put("big.bin", randomBytes(bigSize))
	etag := e.putMultipart("multi.bin", randomBytes(5<<20), randomBytes(1<<20+777))
	if !strings.Contains(etag, "-") {
		e.t.Fatalf("multipart ETag %q has no -N suffix", etag)
	}
}

func get(t testing.TB, c *Cache, up Upstream, key string, offset, length int64) []byte {
	t.Helper()
	r, err := c.Get(context.Background(), up, key, offset, length)
	if err != nil {
		t.Fatalf("Get %q %d+%d: %v", key, offset, length, err)
	}
	b, err := readAll(t, r)
	if err != nil {
		t.Fatalf("read %q %d+%d: %v", key, offset, length, err)
	}
	return b
}

// objectFiles lists what objects/<name>/ holds.
func objectFiles(t testing.TB, dir, name string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "objects", name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestColdThenWarm(t *testing.T) {
	e := newEnv(t)
	standardObjects(e)
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")
	ctx := context.Background()

	for _, key := range []string{"hello.txt", "数据/中文 文件 名.csv", "dir with spaces/a b+c&d.txt", "empty", "big.bin", "multi.bin"} {
		want := e.data[key]
		if got := get(t, c, up, key, 0, -1); !bytes.Equal(got, want) {
			t.Fatalf("cold %q: %d bytes, want %d identical", key, len(got), len(want))
		}
		if n := e.gets(key); n != 1 {
			t.Fatalf("cold %q: %d upstream GETs", key, n)
		}
		info, ok := c.Cached(up, key)
		if !ok || info.Size != int64(len(want)) {
			t.Fatalf("%q not cached after a cold Get: %+v %v", key, info, ok)
		}
		if got := get(t, c, up, key, 0, -1); !bytes.Equal(got, want) {
			t.Fatalf("warm %q differs", key)
		}
		if n := e.gets(key); n != 1 {
			t.Fatalf("warm %q: %d upstream GETs, want still 1", key, n)
		}
	}

	// Head of a cached object comes from the index, with the upstream's ETag.
	heads := e.proxy.headCount()
	for _, key := range []string{"big.bin", "multi.bin"} {
		info, err := c.Head(ctx, up, key)
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.direct.StatObject(ctx, e.bucket, e.prefix+key, statOptions())
		if err != nil {
			t.Fatal(err)
		}
		if info.ETag != strings.Trim(st.ETag, `"`) || info.Size != st.Size || info.Key != key {
			t.Fatalf("Head %q = %+v, upstream says %s %d", key, info, st.ETag, st.Size)
		}
	}
	if e.proxy.headCount() != heads {
		t.Fatalf("Head of cached objects asked the upstream")
	}

	// Ranges of warm objects.
	big := e.data["big.bin"]
	for _, rg := range [][2]int64{{0, 1}, {0, 0}, {1, 100}, {bigSize - 1, 1}, {bigSize - 1, -1}, {3 << 20, 1 << 20}, {bigSize, 0}, {bigSize, -1}, {12345, -1}} {
		want := big[rg[0]:]
		if rg[1] >= 0 {
			want = want[:rg[1]]
		}
		if got := get(t, c, up, "big.bin", rg[0], rg[1]); !bytes.Equal(got, want) {
			t.Fatalf("range %v: %d bytes, want %d", rg, len(got), len(want))
		}
	}
	if _, err := c.Get(ctx, up, "big.bin", bigSize-10, 11); dataport.KindOf(err) != dataport.KindInvalid {
		t.Fatalf("range past the end: %v", err)
	}

	// A range of a cold object joins a full fill, which caches the whole object.
	e.put("cold-range.bin", randomBytes(3<<20))
	want := e.data["cold-range.bin"][2<<20 : 2<<20+4096]
	if got := get(t, c, up, "cold-range.bin", 2<<20, 4096); !bytes.Equal(got, want) {
		t.Fatal("cold range differs")
	}
	waitCached(t, c, up, "cold-range.bin")
	if got := get(t, c, up, "cold-range.bin", 0, -1); !bytes.Equal(got, e.data["cold-range.bin"]) {
		t.Fatal("object cached by a cold range differs")
	}
	if n := e.gets("cold-range.bin"); n != 1 {
		t.Fatalf("cold range: %d upstream GETs", n)
	}

	// Missing objects.
	if _, err := c.Head(ctx, up, "no/such key"); dataport.KindOf(err) != dataport.KindNotFound {
		t.Fatalf("Head of a missing object: %v", err)
	}
	if _, err := c.Get(ctx, up, "no/such key", 0, -1); dataport.KindOf(err) != dataport.KindNotFound {
		t.Fatalf("Get of a missing object: %v", err)
	}
	if _, ok := c.Cached(up, "no/such key"); ok {
		t.Fatal("a missing object is cached")
	}
	// Cold Head asks the upstream.
	e.put("cold-head", []byte("x"))
	if info, err := c.Head(ctx, up, "cold-head"); err != nil || info.Size != 1 || info.ETag != md5hex([]byte("x")) {
		t.Fatalf("cold Head: %+v %v", info, err)
	}

	u := c.Usage()
	if u.Hits < 6 || u.Misses != 8 || u.Fetches != 8 || u.Filling != 0 || u.Objects != 7 {
		t.Fatalf("usage %+v", u)
	}
	var total int64
	for _, k := range []string{"hello.txt", "数据/中文 文件 名.csv", "dir with spaces/a b+c&d.txt", "empty", "big.bin", "multi.bin", "cold-range.bin"} {
		total += int64(len(e.data[k]))
	}
	if u.Bytes != total {
		t.Fatalf("usage bytes %d, want %d", u.Bytes, total)
	}

	// The sidecar records what the object is.
	var sc sidecar
	b, err := os.ReadFile(filepath.Join(dir, "objects", "open-data", keyHash("big.bin")+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big)
	if sc.Key != "big.bin" || sc.Size != bigSize || sc.SHA256 != hex.EncodeToString(sum[:]) || sc.ETag != md5hex(big) || sc.Stored.IsZero() {
		t.Fatalf("sidecar %+v", sc)
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// waitCached waits for a fill that a client no longer reads to be stored.
func waitCached(t testing.TB, c *Cache, up Upstream, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := c.Cached(up, key); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q never cached", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentColdGets(t *testing.T) {
	e := newEnv(t)
	e.put("big.bin", randomBytes(bigSize))
	want := sha256.Sum256(e.data["big.bin"])
	c, _ := e.openCache(Options{})
	up := e.upstream("open-data")
	// Slow enough that every request arrives while the one fetch is running.
	e.proxy.set(func(p *proxy) { p.latency, p.rate = 100*time.Millisecond, 40<<20 })

	// 100 clients read the object whole; 10 more walk away early, which the
	// others must not notice.
	const n, quitters = 100, 10
	var wg sync.WaitGroup
	errs := make(chan error, n+quitters)
	for i := range n + quitters {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := c.Get(ctx, up, "big.bin", 0, -1)
			if err != nil {
				errs <- err
				return
			}
			defer r.Close()
			if i >= n {
				io.CopyN(io.Discard, r, int64(i)*1000)
				cancel()
				if _, err := io.Copy(io.Discard, r); err == nil {
					errs <- errors.New("a reader whose context ended read on")
				}
				return
			}
			h := sha256.New()
			if _, err := io.Copy(h, r); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(h.Sum(nil), want[:]) {
				errs <- errors.New("bytes differ")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.gets("big.bin"); got != 1 {
		t.Fatalf("%d concurrent cold Gets made %d upstream GETs, want 1", n+quitters, got)
	}
	if u := c.Usage(); u.Fetches != 1 || u.Misses != n+quitters || u.Objects != 1 || u.FetchedBytes != bigSize {
		t.Fatalf("usage %+v", u)
	}
}

func TestCutConnection(t *testing.T) {
	e := newEnv(t)
	standardObjects(e)
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")
	ctx := context.Background()

	for _, key := range []string{"big.bin", "multi.bin"} {
		e.proxy.set(func(p *proxy) { p.cuts, p.cutAfter = 1, 1<<20+17 })
		// Three readers share the fetch that breaks.
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				r, err := c.Get(ctx, up, key, int64(i)*1000, -1)
				if err != nil {
					if dataport.KindOf(err) != dataport.KindUnavailable {
						t.Errorf("Get %q: %v", key, err)
					}
					return
				}
				got, err := readAll(t, r)
				if err == nil {
					t.Errorf("%q: a cut fetch read %d bytes and no error", key, len(got))
				} else if dataport.KindOf(err) != dataport.KindUnavailable {
					t.Errorf("%q: cut fetch: %v", key, err)
				}
			})
		}
		wg.Wait()
		if _, ok := c.Cached(up, key); ok {
			t.Fatalf("%q cached after a cut fetch", key)
		}
		for _, f := range objectFiles(t, dir, "open-data") {
			if strings.HasPrefix(f, keyHash(key)) {
				t.Fatalf("objects/ holds %s after a cut fetch", f)
			}
		}
		assertNoTemp(t, dir)
		if u := c.Usage(); u.Filling != 0 {
			t.Fatalf("a fill is still running: %+v", u)
		}

		// The next Get fetches cleanly and caches.
		if got := get(t, c, up, key, 0, -1); !bytes.Equal(got, e.data[key]) {
			t.Fatalf("%q after the cut differs", key)
		}
		if _, ok := c.Cached(up, key); !ok {
			t.Fatalf("%q not cached after a clean fetch", key)
		}
		if n := e.gets(key); n != 2 {
			t.Fatalf("%q: %d upstream GETs, want 2", key, n)
		}
	}
}

// TestShortAndCorrupt covers fetches that end without a network error but with
// the wrong bytes: a body that ends early and cleanly, and a body with a flipped
// byte. Each is caught by the upstream's full-object checksum where it sends one
// (the test server does), and otherwise by the length check (a multipart object
// has no MD5 to compare) or the MD5 ETag.
func TestShortAndCorrupt(t *testing.T) {
	e := newEnv(t)
	standardObjects(e)
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")
	ctx := context.Background()

	check := func(key, because string) {
		t.Helper()
		r, err := c.Get(ctx, up, key, 0, -1)
		if err == nil {
			var got []byte
			got, err = readAll(t, r)
			if err == nil {
				t.Fatalf("%q: read %d bytes and no error", key, len(got))
			}
		}
		if dataport.KindOf(err) != dataport.KindUnavailable || !strings.Contains(err.Error(), "incomplete or corrupt") || !strings.Contains(err.Error(), because) {
			t.Fatalf("%q: want a corrupt-fetch error saying %q, got %v", key, because, err)
		}
		if _, ok := c.Cached(up, key); ok {
			t.Fatalf("%q cached", key)
		}
		if files := objectFiles(t, dir, "open-data"); len(files) != 0 {
			t.Fatalf("objects/ holds %v", files)
		}
		assertNoTemp(t, dir)
		if got := get(t, c, up, key, 0, -1); !bytes.Equal(got, e.data[key]) {
			t.Fatalf("%q refetched differs", key)
		}
		if err := c.Evict(up, key); err != nil {
			t.Fatal(err)
		}
	}

	multi := int64(len(e.data["multi.bin"]))
	e.proxy.set(func(p *proxy) { p.cuts, p.cutAfter, p.cleanCut, p.noSums = 1, 3<<20, true, true })
	check("multi.bin", fmt.Sprintf("sent %d bytes of %d", 3<<20, multi))
	e.proxy.set(func(p *proxy) { p.cuts, p.cutAfter, p.cleanCut, p.noSums = 1, 2<<20, true, true })
	check("big.bin", fmt.Sprintf("sent %d bytes of %d", 2<<20, bigSize))
	e.proxy.set(func(p *proxy) { p.corrupts, p.corruptAt, p.noSums = 1, 4<<20+3, true })
	check("big.bin", "do not match the upstream's ETag")
	e.proxy.set(func(p *proxy) { p.corrupts, p.corruptAt, p.noSums = 1, 0, true })
	check("hello.txt", "do not match the upstream's ETag")
	e.proxy.set(func(p *proxy) { p.cuts, p.cutAfter, p.cleanCut, p.noSums = 1, 3<<20, true, false })
	check("multi.bin", "checksum mismatch")
	e.proxy.set(func(p *proxy) { p.corrupts, p.corruptAt, p.noSums = 1, 5<<20+1, false })
	check("multi.bin", "checksum mismatch")
}

func TestUnavailable(t *testing.T) {
	checkGoroutines(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, dir := openTestCache(t, t.TempDir(), Options{})
	up := Upstream{Name: "gone", Endpoint: addr, Bucket: "gone-bucket"}
	ctx := context.Background()
	if _, err := c.Head(ctx, up, "k"); dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("Head: %v", err)
	}
	if _, err := c.Get(ctx, up, "k", 0, -1); dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("Get: %v", err)
	}
	if _, err := c.List(ctx, up, s3apiQuery("", "/", 10)); dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("List: %v", err)
	}
	assertNoTemp(t, dir)
	if _, err := c.Get(ctx, Upstream{Name: "x"}, "k", 0, -1); dataport.KindOf(err) != dataport.KindInvalid {
		t.Fatalf("invalid upstream: %v", err)
	}
	if _, err := c.Get(ctx, up, "", 0, -1); dataport.KindOf(err) != dataport.KindInvalid {
		t.Fatalf("empty key: %v", err)
	}
}

func TestStall(t *testing.T) {
	e := newEnv(t)
	e.put("big.bin", randomBytes(bigSize))
	c, dir := e.openCache(Options{StallTimeout: 200 * time.Millisecond})
	up := e.upstream("open-data")
	hold := make(chan struct{})
	defer close(hold)
	e.proxy.set(func(p *proxy) { p.holdBodies = hold })
	_, err := c.Get(context.Background(), up, "big.bin", 0, -1)
	if dataport.KindOf(err) != dataport.KindUnavailable || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("stalled upstream: %v", err)
	}
	assertNoTemp(t, dir)
}

func TestCloseStopsFills(t *testing.T) {
	e := newEnv(t)
	e.put("big.bin", randomBytes(bigSize))
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")
	e.proxy.set(func(p *proxy) { p.rate = 2 << 20 })
	r, err := c.Get(context.Background(), up, "big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := io.Copy(io.Discard, r); dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("read after Close: %v", err)
	}
	if _, ok := c.Cached(up, "big.bin"); ok {
		t.Fatal("cached after Close")
	}
	if _, err := c.Get(context.Background(), up, "big.bin", 0, -1); dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("Get after Close: %v", err)
	}
	assertNoTemp(t, dir)
}

// TestReaderLeavesFill: the fill goes on when its only reader leaves, and the
// object is cached.
func TestReaderLeavesFill(t *testing.T) {
	e := newEnv(t)
	e.put("big.bin", randomBytes(bigSize))
	c, _ := e.openCache(Options{})
	up := e.upstream("open-data")
	e.proxy.set(func(p *proxy) { p.rate = 20 << 20 })
	ctx, cancel := context.WithCancel(context.Background())
	r, err := c.Get(ctx, up, "big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	r.Close()
	waitCached(t, c, up, "big.bin")
	if got := get(t, c, up, "big.bin", 0, -1); !bytes.Equal(got, e.data["big.bin"]) {
		t.Fatal("differs")
	}
	if n := e.gets("big.bin"); n != 1 {
		t.Fatalf("%d GETs", n)
	}
}

func TestLRU(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"o1", "o2", "o3", "o4", "o5", "o6"} {
		e.put(k, randomBytes(1000))
	}
	e.put("huge", randomBytes(5000))
	clock := newClock()
	dir := t.TempDir()
	c, _ := openTestCache(t, dir, Options{MaxBytes: 3000, Now: clock.now})
	up := e.upstream("open-data")
	cached := func(c *Cache, want ...string) {
		t.Helper()
		var got []string
		for _, k := range []string{"o1", "o2", "o3", "o4", "o5", "o6", "huge"} {
			if _, ok := c.Cached(up, k); ok {
				got = append(got, k)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("cached %v, want %v", got, want)
		}
		if n := len(objectFiles(t, dir, "open-data")); n != 2*len(want) {
			t.Fatalf("%d files on disk for %d objects", n, len(want))
		}
	}
	for _, k := range []string{"o1", "o2", "o3"} {
		get(t, c, up, k, 0, -1)
		clock.advance(time.Hour)
	}
	cached(c, "o1", "o2", "o3")
	get(t, c, up, "o1", 0, -1) // o1 is now the most recent, o2 the least
	clock.advance(time.Hour)
	get(t, c, up, "o4", 0, -1)
	clock.advance(time.Hour)
	cached(c, "o1", "o3", "o4")

	// An object being read is not evicted while it is open.
	r, err := c.Get(context.Background(), up, "o3", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	get(t, c, up, "o1", 0, -1)
	get(t, c, up, "o4", 0, -1)
	get(t, c, up, "o5", 0, -1) // o3 is the least recent now, but open
	cached(c, "o3", "o4", "o5")
	r.Close()
	clock.advance(time.Hour)

	// An object larger than the cap is served but not kept.
	if got := get(t, c, up, "huge", 0, -1); !bytes.Equal(got, e.data["huge"]) {
		t.Fatal("huge differs")
	}
	cached(c, "o3", "o4", "o5")
	if u := c.Usage(); u.Evictions != 2 || u.Bytes != 3000 || u.Objects != 3 {
		t.Fatalf("usage %+v", u)
	}

	// Reopened, the index comes back from the sidecars, and the order of last
	// access from their times: o3 (last read at hour 5) is older than o4 (hour 6)
	// and o5 (hour 7).
	get(t, c, up, "o4", 0, -1)
	clock.advance(time.Hour)
	get(t, c, up, "o5", 0, -1)
	c.Close()
	c2, _ := openTestCache(t, dir, Options{MaxBytes: 3000, Now: clock.now})
	cached(c2, "o3", "o4", "o5")
	if u := c2.Usage(); u.Bytes != 3000 || u.Objects != 3 {
		t.Fatalf("reopened usage %+v", u)
	}
	if got := get(t, c2, up, "o4", 0, -1); !bytes.Equal(got, e.data["o4"]) {
		t.Fatal("o4 after reopening differs")
	}
	clock.advance(time.Hour)
	get(t, c2, up, "o6", 0, -1)
	cached(c2, "o4", "o5", "o6")
	if n := e.gets("o4"); n != 1 {
		t.Fatalf("o4 fetched %d times", n)
	}

	// A smaller cap on reopening evicts at once.
	c2.Close()
	c3, _ := openTestCache(t, dir, Options{MaxBytes: 1000, Now: clock.now})
	cached(c3, "o6")
}

// clock is a settable clock for the Now option.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestOpenSweeps(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	objs := filepath.Join(dir, "objects", "open-data")
	must(os.MkdirAll(objs, 0o750))
	must(os.MkdirAll(filepath.Join(dir, "tmp", "forget-1"), 0o750))
	must(os.WriteFile(filepath.Join(dir, "tmp", "fill-123"), []byte("partial"), 0o640))
	// A complete object.
	good := sidecar{Key: "a/b.txt", Size: 3, ETag: md5hex([]byte("abc")), SHA256: "x", Stored: time.Now()}
	b, _ := json.Marshal(good)
	must(os.WriteFile(filepath.Join(objs, keyHash("a/b.txt")), []byte("abc"), 0o640))
	must(os.WriteFile(filepath.Join(objs, keyHash("a/b.txt")+".json"), b, 0o640))
	// A data file without its sidecar, a sidecar without its data file, and a
	// sidecar whose size is wrong.
	must(os.WriteFile(filepath.Join(objs, keyHash("orphan")), []byte("zzz"), 0o640))
	lone, _ := json.Marshal(sidecar{Key: "lone", Size: 1})
	must(os.WriteFile(filepath.Join(objs, keyHash("lone")+".json"), lone, 0o640))
	wrong, _ := json.Marshal(sidecar{Key: "wrong", Size: 99})
	must(os.WriteFile(filepath.Join(objs, keyHash("wrong")), []byte("short"), 0o640))
	must(os.WriteFile(filepath.Join(objs, keyHash("wrong")+".json"), wrong, 0o640))

	c, _ := openTestCache(t, dir, Options{})
	files := objectFiles(t, dir, "open-data")
	if len(files) != 2 {
		t.Fatalf("left %v", files)
	}
	up := Upstream{Name: "open-data", Endpoint: "127.0.0.1:1", Bucket: "unused"}
	info, ok := c.Cached(up, "a/b.txt")
	if !ok || info.Size != 3 || info.ETag != good.ETag {
		t.Fatalf("index: %+v %v", info, ok)
	}
	// Served without an upstream (there is none at 127.0.0.1:1).
	if got := get(t, c, up, "a/b.txt", 1, 2); string(got) != "bc" {
		t.Fatalf("got %q", got)
	}
	if u := c.Usage(); u.Objects != 1 || u.Bytes != 3 {
		t.Fatalf("usage %+v", u)
	}
}

func TestEvictAndForget(t *testing.T) {
	e := newEnv(t)
	standardObjects(e)
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")
	other := e.upstream("other-name")
	for _, k := range []string{"hello.txt", "big.bin"} {
		get(t, c, up, k, 0, -1)
		get(t, c, other, k, 0, -1)
	}
	// A reader of an evicted object keeps reading what it opened.
	r, err := c.Get(context.Background(), up, "big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Evict(up, "big.bin"); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, r); err != nil || !bytes.Equal(got, e.data["big.bin"]) {
		t.Fatalf("reader of an evicted object: %d bytes, %v", len(got), err)
	}
	if _, ok := c.Cached(up, "big.bin"); ok {
		t.Fatal("evicted object still cached")
	}
	if n := len(objectFiles(t, dir, "open-data")); n != 2 {
		t.Fatalf("%d files after Evict", n)
	}
	if err := c.Forget("open-data"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Cached(up, "hello.txt"); ok {
		t.Fatal("forgotten upstream still cached")
	}
	if files := objectFiles(t, dir, "open-data"); files != nil {
		t.Fatalf("forgotten upstream left %v", files)
	}
	if _, ok := c.Cached(other, "big.bin"); !ok {
		t.Fatal("Forget dropped another upstream")
	}
	if u := c.Usage(); u.Objects != 2 || u.Bytes != int64(len(e.data["hello.txt"])+bigSize) {
		t.Fatalf("usage %+v", u)
	}
	// A fill in flight when its upstream is forgotten serves its reader but is
	// not stored.
	e.proxy.set(func(p *proxy) { p.rate = 20 << 20 })
	r, err = c.Get(context.Background(), up, "multi.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Forget("open-data"); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, r); err != nil || !bytes.Equal(got, e.data["multi.bin"]) {
		t.Fatalf("reader of a forgotten fill: %d bytes, %v", len(got), err)
	}
	if _, ok := c.Cached(up, "multi.bin"); ok {
		t.Fatal("a fill of a forgotten upstream was stored")
	}
}
