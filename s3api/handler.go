package s3api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure the endpoint.
type Options struct {
	// Region is the region signatures must be scoped to and the location of a
	// bucket whose backend names none. Default "us-east-1". A backend should
	// report this region (or ""): clients sign for the region GetBucketLocation
	// gives them.
	Region string
	// Clock is the time signatures are checked against. Default time.Now.
	Clock func() time.Time
	// Logger receives internal errors and failed transfers. Default slog.Default().
	Logger *slog.Logger
}

const (
	defaultRegion = "us-east-1"
	s3Namespace   = "http://s3.amazonaws.com/doc/2006-03-01/"
	// ownerID names the exchange as the owner of every bucket and object; S3 shows
	// an owner in ListBuckets and in listings, and no client acts on it.
	ownerID = "dataport"
)

type handler struct {
	b      Backend
	v      verifier
	region string
	log    *slog.Logger
}

// NewHandler returns the read-only, path-style S3 endpoint over b. keys checks
// signatures; with nil keys every signed request fails with InvalidAccessKeyId and
// only anonymous access works.
func NewHandler(b Backend, keys Keys, opts Options) http.Handler {
	if b == nil {
		panic("s3api: nil Backend")
	}
	if opts.Region == "" {
		opts.Region = defaultRegion
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &handler{
		b:      b,
		v:      verifier{region: opts.Region, keys: keys, now: opts.Clock},
		region: opts.Region,
		log:    opts.Logger,
	}
}

// call is one request on its way through the handler.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string // x-amz-request-id
	caller Caller
	bucket string
	key    string
	query  url.Values
}

// Sub-resources of S3 this endpoint does not serve. A GET or HEAD naming one is
// answered NotImplemented rather than served as if it were a plain object or
// bucket request. Other query parameters (such as the x-id some SDKs add) are
// ignored, as S3 ignores them.
var unsupportedSubresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
	"intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging", "metadataTable",
	"metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
	"publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select",
	"select-type", "session", "tagging", "torrent", "uploadId", "uploads", "versioning",
	"versions", "website",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, id: newRequestID(), query: r.URL.Query()}
	w.Header().Set("x-amz-request-id", c.id)

	bucket, key, ok := splitPath(r)
	c.bucket, c.key = bucket, key
	caller, err := h.v.authenticate(r)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.caller = caller
	if !ok {
		h.fail(c, errorf(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."))
		return
	}
	if bucket == "" && key != "" {
		h.fail(c, errorf(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid."))
		return
	}

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Read-only: writes of every kind (PutObject, DeleteObject, CreateBucket,
		// multipart uploads, configuration) are refused the same way.
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(c, errMethodNotAllowed())
		return
	}
	for _, s := range unsupportedSubresources {
		if c.query.Has(s) {
			h.fail(c, errNotImplemented("?"+s))
			return
		}
	}

	switch {
	case bucket == "":
		h.listBuckets(c)
	case key == "" && r.Method == http.MethodHead:
		h.headBucket(c)
	case key == "" && c.query.Has("location"):
		h.bucketLocation(c)
	case key == "" && c.query.Has("list-type"):
		if c.query.Get("list-type") != "2" {
			h.fail(c, ErrInvalidArgument("Invalid List Type specified in Request"))
			return
		}
		h.listObjectsV2(c)
	case key == "":
		h.listObjectsV1(c)
	default:
		h.object(c)
	}
}

// splitPath takes bucket and key from a path-style URL (/bucket/key). The path is
// split while still escaped, so that a key's own escapes cannot move the
// boundary, and each part is then unescaped once. A trailing slash alone
// ("/bucket/") names the bucket.
func splitPath(r *http.Request) (bucket, key string, ok bool) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	b, k, _ := strings.Cut(p, "/")
	bucket, err1 := url.PathUnescape(b)
	key, err2 := url.PathUnescape(k)
	return bucket, key, err1 == nil && err2 == nil
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// headBucket answers HeadBucket: 200 with x-amz-bucket-region when the caller may
// use the bucket, else the status of the error without a body.
func (h *handler) headBucket(c *call) {
	region, err := h.b.Region(c.r.Context(), c.caller, c.bucket)
	if err != nil {
		h.fail(c, err)
		return
	}
	if region == "" {
		region = h.region
	}
	c.w.Header().Set("x-amz-bucket-region", region)
	c.w.WriteHeader(http.StatusOK)
}

// bucketLocation answers GetBucketLocation. S3 gives an empty LocationConstraint
// for us-east-1 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html).
func (h *handler) bucketLocation(c *call) {
	region, err := h.b.Region(c.r.Context(), c.caller, c.bucket)
	if err != nil {
		h.fail(c, err)
		return
	}
	if region == "" {
		region = h.region
	}
	c.w.Header().Set("x-amz-bucket-region", region)
	if region == "us-east-1" {
		region = ""
	}
	h.writeXML(c, http.StatusOK, locationConstraint{Region: region})
}

type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

// errorResponse is the body of every error
// (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses).
type errorResponse struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
	Region    string `xml:",omitempty"`
}

// fail answers with the S3 error err maps to. A HEAD response has no body, as
// with S3, so a client learns only the status.
func (h *handler) fail(c *call, err error) {
	e, internal := toError(err, c.key != "")
	if internal {
		h.log.Error("s3api: request failed", "request_id", c.id, "method", c.r.Method,
			"path", c.r.URL.Path, "code", e.Code, "err", err)
	}
	if e.region != "" {
		// As S3 does, so that a client that cannot read the body of a HEAD
		// response still learns where to sign.
		c.w.Header().Set("x-amz-bucket-region", e.region)
	}
	if c.r.Method == http.MethodHead {
		c.w.WriteHeader(e.Status)
		return
	}
	h.writeXML(c, e.Status, errorResponse{
		Code: e.Code, Message: e.Message, Resource: c.r.URL.Path, RequestID: c.id, Region: e.region,
	})
}

// writeXML sends v as an XML document; HEAD gets the headers only.
func (h *handler) writeXML(c *call, status int, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		h.log.Error("s3api: encoding a response", "request_id", c.id, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(xml.Header)
		xml.NewEncoder(&buf).Encode(errorResponse{Code: ErrInternalError.Code, Message: ErrInternalError.Message,
			Resource: c.r.URL.Path, RequestID: c.id})
	}
	hd := c.w.Header()
	hd.Set("Content-Type", "application/xml")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		c.w.Write(buf.Bytes())
	}
}
