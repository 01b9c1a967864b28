package mirror

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/s3api"
)

// Upstream is a foreign S3-compatible bucket the mirror serves under a bucket name
// of its own. The zero values of AccessKey and SecretKey mean anonymous access,
// which is how public open data buckets are read.
type Upstream struct {
	Name      string // the bucket name the mirror shows, and its directory in the cache
	Endpoint  string // host[:port], no scheme
	Secure    bool   // https
	Bucket    string // the upstream bucket
	Region    string // empty: discovered from the endpoint or the bucket
	Prefix    string // only keys under this prefix are shown, without it
	AccessKey string
	SecretKey string
}

var (
	regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	hostLabel     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// Validate reports every problem with the upstream as one KindInvalid error.
func (u Upstream) Validate() error {
	var p dataport.Problems
	if err := ValidName(u.Name); err != nil {
		p.Add("name", "%s", err.Error())
	}
	if err := validEndpoint(u.Endpoint); err != nil {
		p.Add("endpoint", "%s", err.Error())
	}
	// Old buckets in us-east-1 may carry upper-case letters or underscores, so the
	// upstream bucket gets the relaxed check that the S3 client itself applies.
	if err := s3utils.CheckValidBucketName(u.Bucket); err != nil {
		p.Add("bucket", "%s", strings.ToLower(err.Error()))
	}
	if u.Region != "" && !regionPattern.MatchString(u.Region) {
		p.Add("region", "a region is lower-case letters, digits and hyphens, such as us-east-1")
	}
	if err := validKey(u.Prefix, true); err != nil {
		p.Add("prefix", "%s", err.Error())
	}
	if (u.AccessKey == "") != (u.SecretKey == "") {
		p.Add("access_key", "give both the access key and the secret key, or neither for anonymous access")
	}
	return p.Err("mirror.Upstream.Validate")
}

// ValidName checks a mirror bucket name against the S3 rules for new buckets:
// 3 to 63 lower-case letters, digits, hyphens and dots, starting and ending with a
// letter or digit, no adjacent dots, not shaped like an IP address. Such a name is
// also a safe directory name.
func ValidName(name string) error {
	if err := s3utils.CheckValidBucketNameStrict(name); err != nil {
		return errors.New("a bucket name is 3 to 63 lower-case letters, digits, hyphens and dots, starting and ending with a letter or digit")
	}
	return nil
}

func validEndpoint(ep string) error {
	bad := errors.New("an endpoint is host[:port], without a scheme or path")
	if ep == "" || strings.ContainsAny(ep, "/?#@ ") {
		return bad
	}
	host := ep
	if h, port, err := net.SplitHostPort(ep); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad
		}
		host = h
	} else if strings.Contains(ep, ":") && !strings.HasPrefix(ep, "[") {
		return bad
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 {
		return bad
	}
	for _, label := range strings.Split(host, ".") {
		if !hostLabel.MatchString(label) {
			return bad
		}
	}
	return nil
}

// validKey checks an object key (or, with empty allowed, a prefix): S3 keys are at
// most 1024 bytes of UTF-8.
func validKey(key string, emptyOK bool) error {
	switch {
	case key == "" && !emptyOK:
		return errors.New("a key is not empty")
	case len(key) > 1024:
		return errors.New("a key is at most 1024 bytes")
	case !utf8.ValidString(key):
		return errors.New("a key is UTF-8")
	}
	return nil
}

// FromARN makes an anonymous upstream from the resource ARN the AWS Open Data
// Registry lists for a dataset, such as arn:aws:s3:::noaa-ghcn-pds or
// arn:aws:s3:::bucket/prefix/. S3 ARNs carry no region, so the registry's region
// is passed alongside. ARNs of the China partition (aws-cn) get the China endpoint.
func FromARN(name, arn, region string) (Upstream, error) {
	const op = "mirror.FromARN"
	bad := func(msg string) (Upstream, error) {
		return Upstream{}, dataport.Invalid(op, dataport.FieldProblem{Field: "arn", Message: msg})
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("an ARN reads arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix/")
	}
	partition, service, arnRegion, account, resource := parts[1], parts[2], parts[3], parts[4], parts[5]
	var domain string
	switch partition {
	case "aws", "aws-us-gov":
		domain = "amazonaws.com"
	case "aws-cn":
		domain = "amazonaws.com.cn"
	default:
		return bad("unknown ARN partition " + strconv.Quote(partition))
	}
	if service != "s3" {
		return bad("not an S3 ARN")
	}
	if arnRegion != "" || account != "" {
		return bad("an S3 bucket ARN has no region or account")
	}
	bucket, prefix, _ := strings.Cut(resource, "/")
	// The registry sometimes writes a whole-prefix grant as "prefix/*".
	prefix = strings.TrimSuffix(prefix, "*")
	if bucket == "" {
		return bad("the ARN names no bucket")
	}
	if region == "" {
		return Upstream{}, dataport.Invalid(op, dataport.FieldProblem{Field: "region", Message: "the region of the bucket is required"})
	}
	u := Upstream{
		Name:     name,
		Endpoint: "s3." + region + "." + domain,
		Secure:   true,
		Bucket:   bucket,
		Region:   region,
		Prefix:   prefix,
	}
	if err := u.Validate(); err != nil {
		return Upstream{}, dataport.Wrap(op, err)
	}
	return u, nil
}

// upstreamClient is the S3 client of one upstream, made once and reused so that
// connections and the discovered region are kept.
type upstreamClient struct {
	up   Upstream
	core minio.Core
}

// maxRetries bounds the client's own retries of failed requests: an unreachable
// upstream should turn into KindUnavailable within seconds, not minutes.
const maxRetries = 3

func newUpstreamClient(up Upstream, transport http.RoundTripper, region string) (*upstreamClient, error) {
	if region == "" {
		region = up.Region
	}
	cl, err := minio.New(up.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(up.AccessKey, up.SecretKey, ""),
		Secure:     up.Secure,
		Transport:  transport,
		Region:     region,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, err
	}
	return &upstreamClient{up: up, core: minio.Core{Client: cl}}, nil
}

// upstreamKey is the key the upstream stores for a key the mirror shows.
func (u Upstream) upstreamKey(key string) string { return u.Prefix + key }

// ctxTransport binds a context to requests that the S3 client makes without one
// (its low-level V2 listing), so that a caller who goes away cancels them.
type ctxTransport struct {
	base http.RoundTripper
	ctx  context.Context
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// upstreamError turns an S3 client error into a dataport error: not found,
// forbidden (the upstream refuses the mirror), unavailable (network, timeouts,
// server errors, throttling) or internal.
func upstreamError(op string, up Upstream, key string, err error) error {
	if err == nil {
		return nil
	}
	var de *dataport.Error
	if errors.As(err, &de) {
		return dataport.Wrap(op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "request cancelled", Err: err}
	}
	var resp minio.ErrorResponse
	errors.As(err, &resp)
	switch {
	case resp.Code == minio.NoSuchBucket || (key == "" && resp.StatusCode == http.StatusNotFound):
		return &dataport.Error{Op: op, Kind: dataport.KindNotFound, Message: "upstream bucket " + up.Bucket + " not found", Err: err}
	case resp.StatusCode == http.StatusNotFound || resp.Code == minio.NoSuchKey:
		return &dataport.Error{Op: op, Kind: dataport.KindNotFound, Message: "no object " + strconv.Quote(key), Err: err}
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return &dataport.Error{Op: op, Kind: dataport.KindForbidden, Message: "the upstream " + up.Name + " refuses access", Err: err}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "range not satisfiable", Err: err}
	case resp.StatusCode == 0 || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		// StatusCode 0: no HTTP answer at all (DNS, refused, reset, timeout).
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "upstream " + up.Name + " unavailable", Err: err}
	}
	return dataport.Internal(op, err)
}

func invalidKey(op string, err error) error {
	return dataport.Invalid(op, dataport.FieldProblem{Field: "key", Message: err.Error()})
}

// newTransport is the S3 client's default transport (no transparent gzip, header
// timeout, TLS 1.2 or later).
func newTransport() *http.Transport {
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		return http.DefaultTransport.(*http.Transport).Clone()
	}
	return tr
}

func statOptions() minio.StatObjectOptions { return minio.StatObjectOptions{} }

// objectInfo is the mirror's view of an upstream object.
func objectInfo(key string, oi minio.ObjectInfo) s3api.ObjectInfo {
	return s3api.ObjectInfo{
		Key:          key,
		Size:         oi.Size,
		ETag:         strings.Trim(oi.ETag, `"`),
		LastModified: oi.LastModified,
		ContentType:  oi.ContentType,
	}
}
