// Package mirror is the exchange's domestic mirror of foreign open data: a
// pull-through cache that serves objects of foreign S3-compatible buckets (such as
// those of the AWS Open Data Registry) from local disk, so that buyers in China do
// not each pay for the slow cross-border link.
//
// A cold object is fetched from its upstream once, however many clients ask for it
// at the same time; every one of them is served from the file as it grows, so the
// first byte reaches the first client while the object is still being stored. An
// object becomes visible in the cache only once every byte has arrived and checks
// against what the upstream said about it (its size, the MD5 ETag where there is
// one, a full-object checksum where the upstream sends one); a broken transfer
// leaves nothing behind.
//
// The cache directory holds
//
//	objects/<upstream name>/<sha256 of the key, hex>        the object's bytes
//	objects/<upstream name>/<sha256 of the key, hex>.json   its sidecar (see sidecar)
//	tmp/                                                   fills in progress
//
// Hashing the key keeps arbitrary keys (slashes, spaces, Chinese, "..") out of
// file names. One process owns a cache directory at a time.
package mirror

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/s3api"
	"golang.org/x/sync/singleflight"
)

// Options tune a Cache. The zero value is usable: no size cap, 5-minute listings.
type Options struct {
	// MaxBytes caps the bytes of complete objects kept; the least recently used
	// are evicted beyond it. 0 means no cap. Objects larger than the cap are still
	// served, but not kept.
	MaxBytes int64
	// ListTTL is how long a listing page is reused before the upstream is asked
	// again. 0 means 5 minutes; negative means listings are never cached.
	ListTTL time.Duration
	// StallTimeout fails a fill whose upstream sends nothing for this long (the
	// connection may be open but dead). 0 means 2 minutes.
	StallTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Transport carries every upstream request; nil means a transport of the
	// cache's own, closed with it. It must hand bodies over as sent (no
	// transparent gzip: http.Transport.DisableCompression), or the bytes stored
	// would not be the object's.
	Transport http.RoundTripper
}

// Usage is a snapshot of the cache's state and counters since it was opened.
type Usage struct {
	Objects      int   // complete objects on disk
	Bytes        int64 // their size
	MaxBytes     int64 // the cap, 0 for none
	Hits         int64 // Gets served from disk
	Misses       int64 // Gets that had to wait for (or start) a fill
	Fetches      int64 // object GETs sent upstream
	FetchedBytes int64 // bytes received from upstream GETs
	Heads        int64 // object HEADs sent upstream
	Lists        int64 // listing requests sent upstream
	Evictions    int64 // objects evicted to stay under MaxBytes
	Filling      int   // fills in flight
}

// Cache is a pull-through cache of upstream objects on local disk. It is safe for
// concurrent use; Close it to stop fills in flight.
type Cache struct {
	heads        singleflight.Group // upstream HEADs in flight, by upstream and key
	dir          string
	maxBytes     int64
	listTTL      time.Duration
	stall        time.Duration
	now          func() time.Time
	transport    http.RoundTripper
	ownTransport *http.Transport

	ctx    context.Context // parent of every fill, cancelled by Close
	cancel context.CancelCauseFunc
	fillWG sync.WaitGroup

	fetchedBytes atomic.Int64

	mu      sync.Mutex
	closed  bool
	index   map[entryKey]*entry
	lru     list.List // of *entry, most recently used at the front
	total   int64     // bytes of the objects in index
	fills   map[entryKey]*fill
	gen     map[string]uint64 // per upstream name, bumped by Forget
	clients map[Upstream]*upstreamClient
	lists   map[listKey]listEntry
	stats   Usage // counters only; the rest is filled in by Usage
}

// entryKey names an object in the cache: the mirror's bucket name and the key it
// shows (without the upstream's prefix).
type entryKey struct {
	name, key string
}

// entry is a complete object on disk.
type entry struct {
	ek      entryKey
	info    s3api.ObjectInfo
	touched time.Time // the sidecar's mtime: last access as known across restarts
	readers int       // open readers; an object being read is not evicted for space
	elem    *list.Element
}

// sidecar is the JSON file next to each object. The key is kept in full (the
// file name is only its hash) so that the index can be rebuilt from disk, and the
// sidecar's mtime records the last access for the LRU across restarts.
type sidecar struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`   // the upstream's, without quotes
	SHA256       string    `json:"sha256"` // of the content, lower-case hex
	LastModified time.Time `json:"last_modified,omitzero"`
	ContentType  string    `json:"content_type,omitempty"`
	Stored       time.Time `json:"stored"`
}

const (
	defaultListTTL = 5 * time.Minute
	defaultStall   = 2 * time.Minute
	// touchEvery bounds how often a hit rewrites the sidecar's mtime: the on-disk
	// LRU order only needs to be roughly right, and a write per hit would cost
	// more than the read it records.
	touchEvery = 10 * time.Minute
)

var (
	errClosed  = errors.New("mirror cache closed")
	errStalled = errors.New("upstream sent nothing for too long")
	errDropped = errors.New("nobody wants the fill any more")
)

// OpenCache opens (creating it if needed) the cache in dir. Fills a previous
// process left in tmp/ are removed, and the index is rebuilt from the sidecars.
func OpenCache(dir string, opts Options) (*Cache, error) {
	const op = "mirror.OpenCache"
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	if opts.MaxBytes < 0 {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "max_bytes", Message: "not negative"})
	}
	c := &Cache{
		dir:       root,
		maxBytes:  opts.MaxBytes,
		listTTL:   opts.ListTTL,
		stall:     opts.StallTimeout,
		now:       opts.Now,
		transport: opts.Transport,
		index:     map[entryKey]*entry{},
		fills:     map[entryKey]*fill{},
		gen:       map[string]uint64{},
		clients:   map[Upstream]*upstreamClient{},
		lists:     map[listKey]listEntry{},
	}
	if c.listTTL == 0 {
		c.listTTL = defaultListTTL
	}
	if c.stall <= 0 {
		c.stall = defaultStall
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, d := range []string{c.objectsDir(), c.tmpDir()} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, dataport.Internal(op, err)
		}
	}
	// Anything in tmp/ is a fill or a forgotten upstream of a process that is gone:
	// it never became visible, so it can go.
	tmps, err := os.ReadDir(c.tmpDir())
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	for _, t := range tmps {
		os.RemoveAll(filepath.Join(c.tmpDir(), t.Name()))
	}
	if err := c.load(); err != nil {
		return nil, dataport.Internal(op, err)
	}
	if c.transport == nil {
		// The same settings as the S3 client's default; one transport for every
		// upstream so that Close can drop the idle connections.
		c.ownTransport = newTransport()
		c.transport = c.ownTransport
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return c, nil
}

func (c *Cache) objectsDir() string { return filepath.Join(c.dir, "objects") }
func (c *Cache) tmpDir() string     { return filepath.Join(c.dir, "tmp") }

// keyHash is the file name of a key.
func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func (c *Cache) dataPath(ek entryKey) string {
	return filepath.Join(c.objectsDir(), ek.name, keyHash(ek.key))
}

func (c *Cache) sidecarPath(ek entryKey) string { return c.dataPath(ek) + ".json" }

// load rebuilds the index from the sidecars. A sidecar without its data file (or
// the other way round), or one that does not match its data file, is what a crash
// between the two renames leaves: both go.
func (c *Cache) load() error {
	names, err := os.ReadDir(c.objectsDir())
	if err != nil {
		return err
	}
	var loaded []*entry
	for _, n := range names {
		if !n.IsDir() || ValidName(n.Name()) != nil {
			continue
		}
		dir := filepath.Join(c.objectsDir(), n.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, f := range files {
			have[f.Name()] = true
		}
		for _, f := range files {
			name := f.Name()
			if base, ok := strings.CutSuffix(name, ".json"); ok {
				e, err := readSidecar(dir, base, n.Name())
				if err != nil {
					os.Remove(filepath.Join(dir, name))
					os.Remove(filepath.Join(dir, base))
					continue
				}
				loaded = append(loaded, e)
			} else if !have[name+".json"] {
				os.Remove(filepath.Join(dir, name))
			}
		}
	}
	// Oldest first, each pushed to the front: the most recent ends up in front.
	slices.SortFunc(loaded, func(a, b *entry) int { return a.touched.Compare(b.touched) })
	for _, e := range loaded {
		c.index[e.ek] = e
		e.elem = c.lru.PushFront(e)
		c.total += e.info.Size
	}
	return nil
}

func readSidecar(dir, base, name string) (*entry, error) {
	scPath := filepath.Join(dir, base+".json")
	b, err := os.ReadFile(scPath)
	if err != nil {
		return nil, err
	}
	var sc sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, err
	}
	if keyHash(sc.Key) != base {
		return nil, errors.New("sidecar does not belong to its file")
	}
	st, err := os.Stat(filepath.Join(dir, base))
	if err != nil {
		return nil, err
	}
	if st.Size() != sc.Size {
		return nil, errors.New("object size differs from its sidecar")
	}
	scStat, err := os.Stat(scPath)
	if err != nil {
		return nil, err
	}
	return &entry{
		ek:      entryKey{name, sc.Key},
		info:    sc.info(),
		touched: scStat.ModTime(),
	}, nil
}

func (sc sidecar) info() s3api.ObjectInfo {
	return s3api.ObjectInfo{Key: sc.Key, Size: sc.Size, ETag: sc.ETag, LastModified: sc.LastModified, ContentType: sc.ContentType}
}

// client returns the S3 client for up, validating up the first time it is seen.
func (c *Cache) client(op string, up Upstream) (*upstreamClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, closedError(op)
	}
	if cl := c.clients[up]; cl != nil {
		return cl, nil
	}
	if err := up.Validate(); err != nil {
		return nil, dataport.Wrap(op, err)
	}
	cl, err := newUpstreamClient(up, c.transport, "")
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	c.clients[up] = cl
	return cl, nil
}

func closedError(op string) error {
	return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the mirror is shutting down", Err: errClosed}
}

// Cached describes an object when it is complete on disk, from the index alone:
// it never asks the upstream.
func (c *Cache) Cached(up Upstream, key string) (s3api.ObjectInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.index[entryKey{up.Name, key}]
	if e == nil {
		return s3api.ObjectInfo{}, false
	}
	return e.info, true
}

// Head describes an object: from the index when it is cached (the ETag is the
// upstream's), from a fill in flight when one has its answer, and otherwise from
// an upstream HEAD. A missing object is KindNotFound; an unreachable upstream
// KindUnavailable.
func (c *Cache) Head(ctx context.Context, up Upstream, key string) (s3api.ObjectInfo, error) {
	const op = "mirror.Head"
	if err := validKey(key, false); err != nil {
		return s3api.ObjectInfo{}, invalidKey(op, err)
	}
	cl, err := c.client(op, up)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	ek := entryKey{up.Name, key}
	c.mu.Lock()
	if e := c.index[ek]; e != nil {
		c.mu.Unlock()
		return e.info, nil
	}
	f := c.fills[ek]
	c.mu.Unlock()
	if f != nil {
		if s := f.state(); s.ready && s.info.Size >= 0 {
			return s.info, nil
		}
	}
	// Concurrent HEADs of one cold object share one upstream request, as their
	// GETs share one fill: a hundred clients arriving at once cost one round trip.
	// The shared request runs apart from any one caller's cancellation.
	v, err, _ := c.heads.Do(up.Name+"\x00"+key, func() (any, error) {
		c.mu.Lock()
		c.stats.Heads++
		c.mu.Unlock()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.stall)
		defer cancel()
		oi, err := cl.core.StatObject(hctx, up.Bucket, up.upstreamKey(key), statOptions())
		if err != nil {
			return nil, upstreamError(op, up, key, err)
		}
		return objectInfo(key, oi), nil
	})
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	return v.(s3api.ObjectInfo), nil
}

// Evict drops an object from the cache. Readers that have it open keep reading
// the bytes they opened; a fill in flight for it is not affected.
func (c *Cache) Evict(up Upstream, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.index[entryKey{up.Name, key}]; e != nil {
		return c.dropLocked(e)
	}
	return nil
}

// Forget drops everything cached for the upstream named name: its objects, its
// listings and its client. Fills in flight for it still serve their readers but
// are not stored.
func (c *Cache) Forget(name string) error {
	const op = "mirror.Forget"
	if err := ValidName(name); err != nil {
		return dataport.Invalid(op, dataport.FieldProblem{Field: "name", Message: err.Error()})
	}
	aside, err := c.forgetIndex(name)
	if err != nil {
		return dataport.Internal(op, err)
	}
	if aside != "" {
		if err := os.RemoveAll(aside); err != nil {
			return dataport.Internal(op, err)
		}
	}
	return nil
}

// forgetIndex drops the upstream from memory and moves its directory into tmp/,
// so that it is gone at once and a fill of a new generation can never land in a
// directory that is being removed. It returns what is left to remove.
func (c *Cache) forgetIndex(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[name]++
	for ek, e := range c.index {
		if ek.name == name {
			delete(c.index, ek)
			c.lru.Remove(e.elem)
			c.total -= e.info.Size
		}
	}
	for k := range c.lists {
		if k.up.Name == name {
			delete(c.lists, k)
		}
	}
	for up := range c.clients {
		if up.Name == name {
			delete(c.clients, up)
		}
	}
	dir := filepath.Join(c.objectsDir(), name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	aside, err := os.MkdirTemp(c.tmpDir(), "forget-*")
	if err != nil {
		return "", err
	}
	if err := os.Rename(dir, filepath.Join(aside, name)); err != nil {
		os.Remove(aside)
		return "", err
	}
	return aside, nil
}

// dropLocked removes an object from the index and from disk.
func (c *Cache) dropLocked(e *entry) error {
	delete(c.index, e.ek)
	c.lru.Remove(e.elem)
	c.total -= e.info.Size
	err1 := os.Remove(c.sidecarPath(e.ek))
	err2 := os.Remove(c.dataPath(e.ek))
	for _, err := range []error{err1, err2} {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return dataport.Internal("mirror.Evict", err)
		}
	}
	return nil
}

// evictLocked evicts least recently used objects until the total is within the
// cap. Objects with open readers are passed over: they are in use, and the space
// would not come back before they are closed anyway; the last reader's Close
// evicts again.
func (c *Cache) evictLocked() {
	if c.maxBytes <= 0 {
		return
	}
	for el := c.lru.Back(); el != nil && c.total > c.maxBytes; {
		prev := el.Prev()
		if e := el.Value.(*entry); e.readers == 0 {
			c.dropLocked(e)
			c.stats.Evictions++
		}
		el = prev
	}
}

// Usage reports the cache's state and counters.
func (c *Cache) Usage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.stats
	u.Objects = len(c.index)
	u.Bytes = c.total
	u.MaxBytes = c.maxBytes
	u.Filling = len(c.fills)
	u.FetchedBytes = c.fetchedBytes.Load()
	return u
}

// Close stops every fill in flight (their readers get an error; nothing partial
// is stored) and waits for them. Readers of complete objects keep working.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel(errClosed)
	c.fillWG.Wait()
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	return nil
}
