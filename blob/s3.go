package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dataport/dataport"
)

// S3Config says where an S3 store keeps its blobs.
type S3Config struct {
	// Endpoint is the server, as host:port or as a URL (http://host:port or
	// https://host:port; the scheme then overrides Secure).
	Endpoint string
	Bucket   string
	// Region may be empty: the client then asks the server for the bucket's.
	Region    string
	AccessKey string
	SecretKey string
	// Secure selects HTTPS for a host:port Endpoint.
	Secure bool
	// Prefix, optional, is put before every key so that several stores can share a
	// bucket: "tenant-a" keeps the blobs under tenant-a/sha256/….
	Prefix string
}

// S3 is a Store in a bucket of an S3-compatible object store:
//
//	<prefix>sha256/ab/cd/abcd…   the blobs
//	<prefix>tmp/put-…            uploads in progress
//
// S3 has no rename, but an object becomes visible only once its PUT or
// CompleteMultipartUpload succeeds. Put streams the content into a temporary key,
// hashing as it goes, and only once the hash checks copies that object server-side to
// the blob's key and removes the temporary one: a blob is visible whole or not at all.
// A crash leaves at most a temporary object or an incomplete multipart upload under
// the prefix, which OpenS3 sweeps once it is old enough not to belong to a Put still
// running in another process.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string

	// undiscarded holds the temporary keys of failed Puts whose cleanup could not
	// reach the store (it was down): the next Put that succeeds, the store being back,
	// removes them, rather than leaving them for the sweep a day later.
	mu          sync.Mutex
	undiscarded map[string]bool
}

// Sizes of the requests Put makes. S3 allows at most 10,000 parts per multipart
// upload, each but the last at least 5 MiB and at most 5 GiB
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). A copy in a
// single request (CopyObject) is limited to 5 GiB as well.
const (
	minPartSize   = 5 << 20
	maxParts      = 10000
	copyPartSize  = 5 << 30
	s3CleanupTime = time.Minute
)

// OpenS3 opens a store in cfg.Bucket, creating the bucket if it does not exist.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	const op = "blob.OpenS3"
	host, secure, err := s3Endpoint(cfg.Endpoint, cfg.Secure)
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "S3 endpoint %q: %v", cfg.Endpoint, err)
	}
	if cfg.Bucket == "" {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "no S3 bucket given")
	}
	prefix, err := s3Prefix(cfg.Prefix)
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "S3 key prefix %q: %v", cfg.Prefix, err)
	}
	transport, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	client, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    secure,
		Region:    cfg.Region,
		Transport: bodyCopy{transport},
	})
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "S3 endpoint %q: %v", cfg.Endpoint, err)
	}
	s := &S3{client: client, bucket: cfg.Bucket, prefix: prefix, undiscarded: map[string]bool{}}
	exists, err := client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, s3Fail(op, err)
	}
	if !exists {
		err := client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: cfg.Region})
		// Another process opening the same store may have created it meanwhile.
		if err != nil && s3Code(err) != "BucketAlreadyOwnedByYou" {
			return nil, s3Fail(op, err)
		}
	}
	s.sweep(ctx, time.Now().Add(-staleUpload))
	return s, nil
}

// s3Endpoint splits an Endpoint into the host:port the client wants and whether to
// use TLS.
func s3Endpoint(endpoint string, secure bool) (string, bool, error) {
	if !strings.Contains(endpoint, "://") {
		if endpoint == "" || strings.ContainsAny(endpoint, "/?#@") {
			return "", false, errors.New("want host:port or http(s)://host:port")
		}
		return endpoint, secure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, errors.New("the scheme must be http or https")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, errors.New("want only http(s)://host:port, the bucket and the keys go in their own settings")
	}
	return u.Host, u.Scheme == "https", nil
}

// s3Prefix checks a key prefix and ends it with "/". Its segments must be names that
// every S3 server, including those that map keys to file paths, stores as given.
func s3Prefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	p = strings.TrimSuffix(p, "/")
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", errors.New("want names separated by single slashes, without . or .. and not starting with a slash")
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f || r == '\\' {
				return "", errors.New("control characters and backslashes are not allowed")
			}
		}
	}
	return p + "/", nil
}

func (s *S3) key(sum string) string {
	return s.prefix + "sha256/" + sum[:2] + "/" + sum[2:4] + "/" + sum
}

func (s *S3) tmpDir() string { return s.prefix + "tmp/" }

// partSize is the part size for a Put of at most limit bytes. The client holds one
// part in memory, so parts are kept small (16 MiB) unless the limit needs more than
// maxParts of them; content that fits under the limit fits in one part if it can.
func partSize(limit int64) uint64 {
	const small, large = 16 << 20, 512 << 20 // 512 MiB × 10,000 parts is past S3's 5 TiB object limit
	switch {
	case limit < minPartSize:
		return minPartSize
	case limit < small:
		return uint64(limit) + 1
	}
	return uint64(min(max(limit/maxParts+1, small), large))
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, r io.Reader, limit int64, want string) (Info, error) {
	const op = "blob.Put"
	if want != "" {
		if err := checkAddress(op, want); err != nil {
			return Info{}, err
		}
	}
	if limit < 0 {
		return Info{}, tooLarge(op, limit)
	}
	tmp := s.tmpDir() + "put-" + rand.Text()
	failed := true
	defer func() { s.discard(ctx, tmp, failed) }()

	in := &putReader{ctx: ctx, r: r, limit: limit, h: sha256.New()}
	// The size is unknown, so the client uploads in parts (one part for small content),
	// each in a request of its own; a broken Put aborts the multipart upload, and with
	// it every part stored so far.
	up, err := s.client.PutObject(ctx, s.bucket, tmp, in, -1, minio.PutObjectOptions{
		PartSize:    partSize(limit),
		ContentType: "application/octet-stream",
	})
	// What the reader saw decides, whatever the client made of it.
	switch {
	case in.err == errOverLimit:
		return Info{}, tooLarge(op, limit)
	case ctx.Err() != nil:
		return Info{}, dataport.Errorf(op, dataport.KindUnavailable, "upload stopped: %v", ctx.Err())
	case in.err != nil:
		return Info{}, dataport.Errorf(op, dataport.KindInvalid, "the content broke off: %v", in.err)
	case err != nil:
		return Info{}, s3Fail(op, err)
	case !in.eof || up.Size != in.n:
		return Info{}, dataport.Internal(op, fmt.Errorf("stored %d bytes of %d, end of content reached: %t", up.Size, in.n, in.eof))
	}
	n := in.n
	sum := hex.EncodeToString(in.h.Sum(nil))
	if want != "" && sum != want {
		return Info{}, dataport.Invalid(op, dataport.FieldProblem{Field: "sha256", Message: fmt.Sprintf("the content hashes to %s, not %s", sum, want)})
	}
	final := s.key(sum)
	st, err := s.client.StatObject(ctx, s.bucket, final, minio.StatObjectOptions{})
	switch {
	case err == nil && st.Size == n: // stored before: same bytes
		failed = false
		s.discardLeftovers(ctx)
		return Info{SHA256: sum, Size: n, Stored: st.LastModified.UTC()}, nil
	case err != nil && !s3NotFound(err):
		return Info{}, s3Fail(op, err)
	}
	if err := s.copy(ctx, tmp, final, n); err != nil {
		return Info{}, s3Fail(op, err)
	}
	failed = false
	if st, err = s.client.StatObject(ctx, s.bucket, final, minio.StatObjectOptions{}); err != nil {
		return Info{}, s3Fail(op, err)
	}
	if st.Size != n {
		return Info{}, dataport.Internal(op, fmt.Errorf("copied %d bytes to %s, it holds %d", n, final, st.Size))
	}
	s.discardLeftovers(ctx)
	return Info{SHA256: sum, Size: n, Stored: st.LastModified.UTC()}, nil
}

// discard removes a Put's temporary object and, when the Put failed, any multipart
// upload still open for it: the client aborts its own on failure, but one whose
// initiation was cut off before the upload ID came back is only found by listing. It
// runs apart from ctx, which may be what was cancelled.
func (s *S3) discard(ctx context.Context, tmp string, failed bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3CleanupTime)
	defer cancel()
	err := s.client.RemoveObject(ctx, s.bucket, tmp, minio.RemoveObjectOptions{})
	if err != nil && s3NotFound(err) {
		err = nil
	}
	if failed {
		if e := s.client.RemoveIncompleteUpload(ctx, s.bucket, tmp); err == nil {
			err = e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.undiscarded[tmp] = true
	} else {
		delete(s.undiscarded, tmp)
	}
}

// discardLeftovers tries again to remove what failed Puts could not: a Put has just
// succeeded, so the store answers again.
func (s *S3) discardLeftovers(ctx context.Context) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.undiscarded))
	for k := range s.undiscarded {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.discard(ctx, k, true)
	}
}

// copy copies src to dst server-side: in one request (CopyObject) up to 5 GiB, above
// that in a multipart upload of UploadPartCopy requests. The client's ComposeObject
// does the same but leaves the upload open when completing it fails; here a failed
// multipart copy is aborted by its upload ID, which also leaves alone a concurrent
// Put of the same content copying to the same key.
func (s *S3) copy(ctx context.Context, src, dst string, size int64) (err error) {
	if size <= copyPartSize {
		_, err := s.client.CopyObject(ctx,
			minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
			minio.CopySrcOptions{Bucket: s.bucket, Object: src})
		return err
	}
	core := minio.Core{Client: s.client}
	id, err := core.NewMultipartUpload(ctx, s.bucket, dst, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3CleanupTime)
			defer cancel()
			core.AbortMultipartUpload(actx, s.bucket, dst, id)
		}
	}()
	var parts []minio.CompletePart
	for off, n := int64(0), 1; off < size; off, n = off+copyPartSize, n+1 {
		p, err := core.CopyObjectPart(ctx, s.bucket, src, s.bucket, dst, id, n, off, min(copyPartSize, size-off), nil)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	_, err = core.CompleteMultipartUpload(ctx, s.bucket, dst, id, parts, minio.PutObjectOptions{})
	return err
}

// errOverLimit stops an upload of more than the limit.
var errOverLimit = errors.New("content over the limit")

// putReader hashes and counts what an upload reads, stops at limit+1 bytes and when
// ctx ends, and records why it stopped.
type putReader struct {
	ctx      context.Context
	r        io.Reader
	h        hash.Hash
	n, limit int64
	err      error // why reading stopped before the end of the content
	eof      bool
}

func (p *putReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.eof {
		return 0, io.EOF
	}
	if err := p.ctx.Err(); err != nil {
		p.err = err
		return 0, err
	}
	// Reading one byte past the limit tells content of exactly the limit from more.
	if rest := p.limit - p.n; int64(len(b)) > rest {
		b = b[:rest+1]
	}
	n, err := p.r.Read(b)
	p.h.Write(b[:n])
	p.n += int64(n)
	switch {
	case p.n > p.limit:
		p.err = errOverLimit
		return 0, p.err
	case err == io.EOF:
		p.eof = true
	case err != nil:
		p.err = err
	}
	return n, err
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, sum string) (Info, error) {
	const op = "blob.Stat"
	if err := checkAddress(op, sum); err != nil {
		return Info{}, err
	}
	st, err := s.client.StatObject(ctx, s.bucket, s.key(sum), minio.StatObjectOptions{})
	if s3NotFound(err) {
		return Info{}, notFound(op, sum)
	}
	if err != nil {
		return Info{}, s3Fail(op, err)
	}
	return Info{SHA256: sum, Size: st.Size, Stored: st.LastModified.UTC()}, nil
}

// s3Object reads a blob with GET requests: a Seek makes the next Read ask for a
// range, which is what serving HTTP Range requests needs.
type s3Object struct {
	o    *minio.Object
	info Info
}

func (o *s3Object) Read(p []byte) (int, error)                   { return o.o.Read(p) }
func (o *s3Object) Seek(offset int64, whence int) (int64, error) { return o.o.Seek(offset, whence) }
func (o *s3Object) Close() error                                 { return o.o.Close() }
func (o *s3Object) Info() Info                                   { return o.info }

// Open implements Store. The object reads with ctx, which must last as long as the
// reading does.
func (s *S3) Open(ctx context.Context, sum string) (Object, error) {
	const op = "blob.Open"
	if err := checkAddress(op, sum); err != nil {
		return nil, err
	}
	o, err := s.client.GetObject(ctx, s.bucket, s.key(sum), minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Fail(op, err)
	}
	// GetObject sends nothing yet; Stat makes the first request.
	st, err := o.Stat()
	if err != nil {
		o.Close()
		if s3NotFound(err) {
			return nil, notFound(op, sum)
		}
		return nil, s3Fail(op, err)
	}
	return &s3Object{o: o, info: Info{SHA256: sum, Size: st.Size, Stored: st.LastModified.UTC()}}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, sum string) error {
	const op = "blob.Delete"
	if err := checkAddress(op, sum); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.key(sum), minio.RemoveObjectOptions{})
	if err != nil && !s3NotFound(err) {
		return s3Fail(op, err)
	}
	return nil
}

// Uploads lists the uploads in progress (or abandoned): temporary objects and
// multipart uploads under the prefix, named by their keys without the prefix. It is
// what a consistency check looks at after a crash.
func (s *S3) Uploads(ctx context.Context) ([]string, error) {
	const op = "blob.Uploads"
	var out []string
	err := s.uploads(ctx, func(key, uploadID string, _ time.Time) {
		name := strings.TrimPrefix(key, s.prefix)
		if uploadID != "" {
			name += " (multipart upload " + uploadID + ")"
		}
		out = append(out, name)
	})
	if err != nil {
		return nil, s3Fail(op, err)
	}
	return out, nil
}

var _ Lister = (*S3)(nil)

// List implements Lister.
func (s *S3) List(ctx context.Context, fn func(Info) error) error {
	const op = "blob.List"
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing's goroutine when fn stops it early
	for o := range s.client.ListObjectsIter(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "sha256/", Recursive: true}) {
		if o.Err != nil {
			return s3Fail(op, o.Err)
		}
		sum := o.Key[strings.LastIndexByte(o.Key, '/')+1:]
		if !ValidAddress(sum) || o.Key != s.key(sum) {
			continue
		}
		if err := fn(Info{SHA256: sum, Size: o.Size, Stored: o.LastModified.UTC()}); err != nil {
			return err
		}
	}
	return nil
}

// Pending implements Lister.
func (s *S3) Pending(ctx context.Context) ([]Pending, error) {
	var out []Pending
	err := s.uploads(ctx, func(key, uploadID string, began time.Time) {
		name := strings.TrimPrefix(key, s.prefix)
		if uploadID != "" {
			name += " (multipart upload " + uploadID + ")"
		}
		out = append(out, Pending{Name: name, Began: began.UTC()})
	})
	if err != nil {
		return nil, s3Fail("blob.Pending", err)
	}
	return out, nil
}

// SweepPending implements Lister.
func (s *S3) SweepPending(ctx context.Context, cutoff time.Time) error {
	s.sweep(ctx, cutoff)
	return nil
}

// uploads calls f with each temporary object (uploadID empty) and each multipart
// upload under the prefix, and when it was begun.
func (s *S3) uploads(ctx context.Context, f func(key, uploadID string, began time.Time)) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing's goroutine when the loop stops early
	for o := range s.client.ListObjectsIter(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.tmpDir(), Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		// Servers that store keys as file paths may list the directory itself.
		if !strings.HasSuffix(o.Key, "/") {
			f(o.Key, "", o.LastModified)
		}
	}
	core := minio.Core{Client: s.client}
	keyMarker, idMarker := "", ""
	for {
		res, err := core.ListMultipartUploads(ctx, s.bucket, s.prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return err
		}
		for _, u := range res.Uploads {
			f(u.Key, u.UploadID, u.Initiated)
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// sweep removes uploads abandoned before cutoff, as far as it can: what it misses
// the next sweep takes.
func (s *S3) sweep(ctx context.Context, cutoff time.Time) {
	type upload struct{ key, id string }
	var stale []upload
	s.uploads(ctx, func(key, id string, began time.Time) {
		if began.Before(cutoff) {
			stale = append(stale, upload{key, id})
		}
	})
	core := minio.Core{Client: s.client}
	for _, u := range stale {
		if u.id == "" {
			s.client.RemoveObject(ctx, s.bucket, u.key, minio.RemoveObjectOptions{})
		} else {
			core.AbortMultipartUpload(ctx, s.bucket, u.key, u.id)
		}
	}
}

func s3Code(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// s3NotFound reports whether err says the object does not exist. A HEAD request
// gets no error body, only the status.
func s3NotFound(err error) bool {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	return resp.Code == "NoSuchKey" || (resp.StatusCode == 404 && resp.Code != "NoSuchBucket")
}

// s3Fail classifies an error of the S3 client: no answer, or an answer that the
// server is overloaded or failing, is KindUnavailable (worth retrying); any other
// refusal (access denied, no such bucket, …) is a fault of the exchange's set-up.
func s3Fail(op string, err error) error {
	unavailable := func() error {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "the blob store is unavailable", Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return unavailable()
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return unavailable() // the request got no S3 answer: network, TLS, …
	}
	switch resp.Code {
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
		return unavailable()
	}
	if resp.StatusCode >= 500 {
		return unavailable()
	}
	return dataport.Internal(op, err)
}

// ParseS3URL reads an S3 store's address as dataport's configuration gives it:
//
//	http://ACCESS:SECRET@host:port/bucket[/prefix][?region=…]
//
// https:// selects TLS. The credentials may be left out for a server that needs none.
func ParseS3URL(s string) (S3Config, error) {
	const op = "blob.ParseS3URL"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return S3Config{}, dataport.Errorf(op, dataport.KindInvalid, "want http(s)://ACCESS:SECRET@host:port/bucket[/prefix]")
	}
	bucket, prefix, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if bucket == "" {
		return S3Config{}, dataport.Errorf(op, dataport.KindInvalid, "%s names no bucket: want http(s)://ACCESS:SECRET@host:port/bucket[/prefix]", u.Redacted())
	}
	secret, _ := u.User.Password()
	return S3Config{Endpoint: u.Host, Bucket: bucket, Prefix: prefix, Region: u.Query().Get("region"),
		AccessKey: u.User.Username(), SecretKey: secret, Secure: u.Scheme == "https"}, nil
}

// bodyCopy is the S3 client's transport. The client retries a failed request by
// seeking its body back to the start and sending it again, while net/http may
// still be reading the failed attempt's body in a goroutine of its own (a
// RoundTripper may read and close the body after RoundTrip returns): the two
// raced on one reader when the store broke off mid-upload (seen by the race
// detector). Reading each body once, before it is sent, gives every attempt bytes
// of its own. Bodies are parts the client has already buffered (Put's part size),
// or small requests.
type bodyCopy struct{ next http.RoundTripper }

func (t bodyCopy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return t.next.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return t.next.RoundTrip(r)
}
