package delivery

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/s3api"
)

// The exchange's datasets on the S3-compatible endpoint: each finalised deal is a
// bucket, named after the deal ("deal_01k…" is bucket "deal-01k…", as bucket names
// allow no underscore), holding the files of the deal's manifest. Only the buyer, by
// a signed request with one of its S3 access keys, sees it; every GetObject is a
// download under the entitlement like any other: counted, recorded and, when the
// last byte goes out, completed.

// BucketPrefix starts the name of every deal's bucket.
const BucketPrefix = "deal-"

// BucketOf is the bucket of a deal.
func BucketOf(dealID string) string { return strings.Replace(dealID, "deal_", BucketPrefix, 1) }

func dealOf(bucket string) string { return strings.Replace(bucket, BucketPrefix, "deal_", 1) }

// Actors finds who a signed request acts for (registry.S3Keys).
type Actors interface {
	Actor(ctx context.Context, accessKeyID string) (dataport.Actor, error)
}

// S3Backend serves deals' files to the S3 endpoint.
type S3Backend struct {
	s      *Service
	actors Actors
}

// S3Backend returns the s3api.Backend of the exchange's datasets.
func (s *Service) S3Backend(actors Actors) *S3Backend {
	return &S3Backend{s: s, actors: actors}
}

func (b *S3Backend) actor(ctx context.Context, c s3api.Caller) (dataport.Actor, error) {
	if c.Anonymous() {
		return dataport.Actor{}, denied("the exchange's datasets need a signed request with an S3 access key")
	}
	a, err := b.actors.Actor(ctx, c.AccessKeyID)
	if err != nil {
		return dataport.Actor{}, denied(dataport.MessageOf(err))
	}
	return a, nil
}

// Buckets lists the caller's deals that grant an entitlement.
func (b *S3Backend) Buckets(ctx context.Context, c s3api.Caller) ([]s3api.Bucket, error) {
	if c.Anonymous() {
		return nil, nil
	}
	a, err := b.actor(ctx, c)
	if err != nil {
		return nil, err
	}
	ents, err := b.s.deals.Entitlements(ctx, a, a.ParticipantID)
	if err != nil {
		return nil, err
	}
	out := make([]s3api.Bucket, 0, len(ents))
	for _, e := range ents {
		out = append(out, s3api.Bucket{Name: BucketOf(e.DealID), Created: e.CreatedAt})
	}
	return out, nil
}

// manifest reads the manifest a deal's bucket holds, checking the entitlement.
func (b *S3Backend) manifest(ctx context.Context, c s3api.Caller, bucket string) (dataport.Actor, Manifest, error) {
	a, err := b.actor(ctx, c)
	if err != nil {
		return a, Manifest{}, err
	}
	m, err := b.s.DealManifest(ctx, a, dealOf(bucket))
	if k := dataport.KindOf(err); k == dataport.KindNotFound {
		return a, Manifest{}, s3api.ErrNoSuchBucket(bucket)
	}
	return a, m, err
}

// Region implements s3api.Backend.
func (b *S3Backend) Region(ctx context.Context, c s3api.Caller, bucket string) (string, error) {
	if _, _, err := b.manifest(ctx, c, bucket); err != nil {
		return "", err
	}
	return "", nil // the endpoint's own region
}

func (b *S3Backend) info(m Manifest, f File) s3api.ObjectInfo {
	return s3api.ObjectInfo{Key: f.Path, Size: f.Size, ETag: f.SHA256, LastModified: m.SealedAt, ContentType: f.MediaType}
}

// List implements s3api.Backend over the manifest, in key order; Token is the last
// key of the page before.
func (b *S3Backend) List(ctx context.Context, c s3api.Caller, bucket string, q s3api.ListQuery) (s3api.ListPage, error) {
	_, m, err := b.manifest(ctx, c, bucket)
	if err != nil {
		return s3api.ListPage{}, err
	}
	files := append([]File(nil), m.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	after := q.StartAfter
	if q.Token != "" {
		after = q.Token
	}
	var page s3api.ListPage
	seen := map[string]bool{}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, q.Prefix) || f.Path <= after {
			continue
		}
		key := f.Path
		if q.Delimiter != "" {
			if i := strings.Index(key[len(q.Prefix):], q.Delimiter); i >= 0 {
				cp := key[:len(q.Prefix)+i+len(q.Delimiter)]
				if seen[cp] || cp <= after {
					continue
				}
				if len(page.Objects)+len(page.CommonPrefixes) == q.MaxKeys {
					page.Truncated = true
					return page, nil
				}
				seen[cp] = true
				page.CommonPrefixes = append(page.CommonPrefixes, cp)
				// The next page starts after every key under this prefix.
				page.Next = cp + "\U0010FFFF"
				continue
			}
		}
		if len(page.Objects)+len(page.CommonPrefixes) == q.MaxKeys {
			page.Truncated = true
			return page, nil
		}
		page.Objects = append(page.Objects, b.info(m, f))
		page.Next = f.Path
	}
	page.Next = ""
	return page, nil
}

// Head implements s3api.Backend: the entitlement is checked, nothing counted.
func (b *S3Backend) Head(ctx context.Context, c s3api.Caller, bucket, key string) (s3api.ObjectInfo, error) {
	_, m, err := b.manifest(ctx, c, bucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	f, ok := m.File(key)
	if !ok {
		return s3api.ObjectInfo{}, s3api.ErrNoSuchKey
	}
	return b.info(m, f), nil
}

// Get implements s3api.Backend: a download under the entitlement. A request from
// the first byte starts a delivery (one use); one from a later offset resumes the
// latest unfinished one.
func (b *S3Backend) Get(ctx context.Context, c s3api.Caller, bucket, key string, offset, length int64) (io.ReadCloser, error) {
	a, err := b.actor(ctx, c)
	if err != nil {
		return nil, err
	}
	mode := Fresh
	if offset > 0 {
		mode = Resume
	}
	d, err := b.s.Open(ctx, a, dealOf(bucket), key, mode)
	if err != nil {
		if dataport.KindOf(err) == dataport.KindNotFound {
			return nil, s3api.ErrNoSuchKey
		}
		return nil, err
	}
	if _, err := d.Seek(offset, io.SeekStart); err != nil {
		d.Close()
		return nil, dataport.Internal("delivery.S3Get", err)
	}
	if length < 0 {
		length = d.File.Size - offset
	}
	return &s3Download{d: d, s: b.s, actor: a, r: io.LimitReader(d, length), last: offset+length == d.File.Size, want: length}, nil
}

// s3Download completes its delivery when the reader has delivered the file's last
// byte.
type s3Download struct {
	d     *Download
	s     *Service
	actor dataport.Actor
	r     io.Reader
	n     int64
	want  int64
	last  bool
	done  bool
}

func (r *s3Download) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if err == io.EOF && r.n < r.want {
		err = io.ErrUnexpectedEOF // the blob is shorter than the manifest says
	}
	if err == io.EOF && r.last && !r.done {
		r.done = true
		if cerr := r.s.Complete(context.Background(), r.actor, r.d); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func (r *s3Download) Close() error { return r.d.Close() }

func denied(why string) error {
	return &s3api.Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: why}
}

var _ s3api.Backend = (*S3Backend)(nil)
