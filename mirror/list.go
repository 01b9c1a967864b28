package mirror

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/s3api"
)

// listKey names a cached listing page: the whole upstream (two configurations
// under one name never share pages) and the query.
type listKey struct {
	up Upstream
	q  s3api.ListQuery
}

type listEntry struct {
	page    s3api.ListPage
	expires time.Time
}

// maxListPages bounds the listing cache; beyond it expired pages are dropped, and
// if that is not enough, all of them.
const maxListPages = 10000

// List lists one page of the upstream through the mirror's eyes: under the
// upstream's Prefix, with keys and common prefixes shown without it. Pages are
// kept for ListTTL, so a listing repeated within it costs the upstream nothing;
// Next is the upstream's continuation token, passed back as q.Token.
func (c *Cache) List(ctx context.Context, up Upstream, q s3api.ListQuery) (s3api.ListPage, error) {
	const op = "mirror.List"
	var p dataport.Problems
	if err := validKey(q.Prefix, true); err != nil {
		p.Add("prefix", "%s", err.Error())
	}
	if err := validKey(q.StartAfter, true); err != nil {
		p.Add("start_after", "%s", err.Error())
	}
	if q.MaxKeys < 0 {
		p.Add("max_keys", "not negative")
	}
	if err := p.Err(op); err != nil {
		return s3api.ListPage{}, err
	}
	if q.MaxKeys == 0 || q.MaxKeys > 1000 {
		q.MaxKeys = 1000
	}
	cl, err := c.client(op, up)
	if err != nil {
		return s3api.ListPage{}, err
	}
	k := listKey{up, q}
	now := c.now()
	if c.listTTL > 0 {
		c.mu.Lock()
		e, ok := c.lists[k]
		c.mu.Unlock()
		if ok && now.Before(e.expires) {
			return clonePage(e.page), nil
		}
	}
	page, err := c.listUpstream(ctx, op, cl, q)
	if err != nil {
		return s3api.ListPage{}, err
	}
	if c.listTTL > 0 {
		c.mu.Lock()
		if _, known := c.clients[up]; known { // not forgotten meanwhile
			c.pruneListsLocked(now)
			c.lists[k] = listEntry{page: page, expires: now.Add(c.listTTL)}
		}
		c.mu.Unlock()
	}
	return clonePage(page), nil
}

func (c *Cache) pruneListsLocked(now time.Time) {
	if len(c.lists) < maxListPages {
		return
	}
	for k, e := range c.lists {
		if !now.Before(e.expires) {
			delete(c.lists, k)
		}
	}
	if len(c.lists) >= maxListPages {
		clear(c.lists)
	}
}

// clonePage copies a page so that a caller cannot change the cached one.
func clonePage(p s3api.ListPage) s3api.ListPage {
	p.Objects = slices.Clone(p.Objects)
	p.CommonPrefixes = slices.Clone(p.CommonPrefixes)
	return p
}

// listUpstream sends one ListObjectsV2. The S3 client's call that exposes the
// continuation token takes no context, so it runs on a client of its own whose
// transport carries ctx, sharing the cache's transport and connections.
func (c *Cache) listUpstream(ctx context.Context, op string, cl *upstreamClient, q s3api.ListQuery) (s3api.ListPage, error) {
	up := cl.up
	region, err := regionOf(ctx, cl)
	if err != nil {
		return s3api.ListPage{}, upstreamError(op, up, "", err)
	}
	lc, err := newUpstreamClient(up, ctxTransport{base: c.transport, ctx: ctx}, region)
	if err != nil {
		return s3api.ListPage{}, dataport.Internal(op, err)
	}
	c.mu.Lock()
	c.stats.Lists++
	c.mu.Unlock()
	startAfter := ""
	if q.StartAfter != "" {
		startAfter = up.Prefix + q.StartAfter
	}
	res, err := lc.core.ListObjectsV2(up.Bucket, up.Prefix+q.Prefix, startAfter, q.Token, q.Delimiter, q.MaxKeys)
	if err != nil {
		if ctx.Err() != nil {
			return s3api.ListPage{}, cancelled(op, ctx)
		}
		return s3api.ListPage{}, upstreamError(op, up, "", err)
	}
	page := s3api.ListPage{Truncated: res.IsTruncated, Next: res.NextContinuationToken}
	for _, o := range res.Contents {
		// An object named exactly the prefix (a folder marker) has no name in the
		// mirror.
		if k, ok := strings.CutPrefix(o.Key, up.Prefix); ok && k != "" {
			page.Objects = append(page.Objects, objectInfo(k, o))
		}
	}
	for _, cp := range res.CommonPrefixes {
		if k, ok := strings.CutPrefix(cp.Prefix, up.Prefix); ok && k != "" {
			page.CommonPrefixes = append(page.CommonPrefixes, k)
		}
	}
	return page, nil
}

// regionOf is the upstream's region: configured, or asked of the upstream once
// (the shared client remembers it). An upstream that refuses to say is taken to
// be in us-east-1, which is what S3 answers for it anyway.
func regionOf(ctx context.Context, cl *upstreamClient) (string, error) {
	if cl.up.Region != "" {
		return cl.up.Region, nil
	}
	region, err := cl.core.GetBucketLocation(ctx, cl.up.Bucket)
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && (er.StatusCode == http.StatusForbidden || er.StatusCode == http.StatusNotImplemented) {
			return "us-east-1", nil
		}
		return "", err
	}
	if region == "" {
		region = "us-east-1"
	}
	return region, nil
}
