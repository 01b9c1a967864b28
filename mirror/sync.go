package mirror

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/time/rate"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/s3api"
)

// SyncOptions tune a Sync.
type SyncOptions struct {
	// BytesPerSecond caps the bandwidth of the fetches the Sync starts, all of
	// them together; 0 means no cap. A client that asks for an object while the
	// Sync fetches it lifts the cap for that object: a person is waiting for it.
	BytesPerSecond int64
	// Concurrency is how many objects are fetched at once; 0 means 4.
	Concurrency int
	// Progress, when set, is called after each object (fetched, skipped or failed)
	// with the bytes handled so far and the bytes under the prefix. Calls do not
	// overlap.
	Progress func(done, total int64, key string)
}

// SyncReport counts what a Sync did.
type SyncReport struct {
	Objects int           // objects under the prefix
	Fetched int           // objects fetched by this run
	Bytes   int64         // their bytes
	Skipped int           // objects already cached, unchanged upstream
	Failed  []SyncFailure // objects that could not be fetched
}

// SyncFailure is an object a Sync could not fetch, and why.
type SyncFailure struct {
	Key    string
	Reason string
}

// Sync prefetches every object under prefix (in the mirror's key space) that is
// not cached yet, or whose cached copy no longer matches the upstream's listing
// (ETag or size). Cached objects are skipped, so running Sync again after an
// interruption continues where it stopped. Sync lists the whole prefix first so
// that Progress knows the total, and refuses (KindTooLarge) a prefix larger than
// MaxBytes, which would evict its own objects.
//
// Objects are fetched by the same fills as Gets: a client asking for an object
// the Sync is fetching joins that fetch, and the other way round. Cancelling ctx
// stops the Sync, and so does closing the cache; a fetch that no client reads is
// cancelled with it, and the report so far is returned with the error.
func (c *Cache) Sync(ctx context.Context, up Upstream, prefix string, opts SyncOptions) (SyncReport, error) {
	const op = "mirror.Sync"
	var rep SyncReport
	var p dataport.Problems
	if err := validKey(prefix, true); err != nil {
		p.Add("prefix", "%s", err.Error())
	}
	if opts.BytesPerSecond < 0 {
		p.Add("bytes_per_second", "not negative")
	}
	if opts.Concurrency < 0 {
		p.Add("concurrency", "not negative")
	}
	if err := p.Err(op); err != nil {
		return rep, err
	}
	cl, err := c.client(op, up)
	if err != nil {
		return rep, err
	}

	var objs []s3api.ObjectInfo
	var total int64
	for token := ""; ; {
		page, err := c.listUpstream(ctx, op, cl, s3api.ListQuery{Prefix: prefix, Token: token, MaxKeys: 1000})
		if err != nil {
			return rep, err
		}
		for _, o := range page.Objects {
			objs = append(objs, o)
			total += o.Size
		}
		if !page.Truncated || page.Next == "" {
			break
		}
		token = page.Next
	}
	rep.Objects = len(objs)
	if c.maxBytes > 0 && total > c.maxBytes {
		// The Sync would evict what it fetched to make room for what it fetches.
		return rep, dataport.Errorf(op, dataport.KindTooLarge, "%q holds %d bytes, more than the cache's %d", prefix, total, c.maxBytes)
	}

	var limiter *rate.Limiter
	if opts.BytesPerSecond > 0 {
		// The burst is also the largest read a capped fill makes, so it stays small
		// enough for the cap to be smooth.
		limiter = rate.NewLimiter(rate.Limit(opts.BytesPerSecond), int(min(opts.BytesPerSecond, 64<<10)))
	}
	workers := opts.Concurrency
	if workers == 0 {
		workers = 4
	}
	jobs := make(chan s3api.ObjectInfo)
	var (
		mu   sync.Mutex
		done int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for o := range jobs {
				fetched, interrupted, err := c.syncOne(ctx, op, cl, o, limiter)
				if interrupted {
					continue // neither done nor failed: the next run does it
				}
				mu.Lock()
				switch {
				case err != nil:
					rep.Failed = append(rep.Failed, SyncFailure{Key: o.Key, Reason: err.Error()})
				case fetched:
					rep.Fetched++
					rep.Bytes += o.Size
				default:
					rep.Skipped++
				}
				done += o.Size
				if opts.Progress != nil {
					opts.Progress(done, total, o.Key)
				}
				mu.Unlock()
			}
		})
	}
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- o:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return rep, cancelled(op, ctx)
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return rep, closedError(op)
	}
	return rep, nil
}

// syncOne makes sure one listed object is cached, fetching it when it is not (or
// no longer matches the listing). It reports whether it fetched, or whether ctx
// ended before the object was done with.
func (c *Cache) syncOne(ctx context.Context, op string, cl *upstreamClient, o s3api.ObjectInfo, limiter *rate.Limiter) (fetched, interrupted bool, err error) {
	if ctx.Err() != nil {
		return false, true, nil
	}
	ek := entryKey{cl.up.Name, o.Key}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false, true, nil
	}
	if e := c.index[ek]; e != nil && e.info.Size == o.Size && (o.ETag == "" || e.info.ETag == o.ETag) {
		c.mu.Unlock()
		return false, false, nil
	}
	f := c.fills[ek]
	if f == nil {
		if f, err = c.startFillLocked(cl, ek, limiter); err != nil {
			c.mu.Unlock()
			return false, false, dataport.Internal(op, err)
		}
	}
	f.syncers++
	c.mu.Unlock()
	select {
	case <-f.finished:
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.leaveFillLocked(f, false)
	c.mu.Unlock()
	if s := f.state(); s.done {
		if errors.Is(s.err, errClosed) {
			return false, true, nil
		}
		return s.err == nil, false, s.err
	}
	return false, true, nil
}
