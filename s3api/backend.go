// Package s3api serves the read side of the Amazon S3 REST API, path-style
// (http://host/bucket/key), so that the tools people already script against
// (aws-sdk-go-v2, minio-go, s3cmd, rclone) list and download from the exchange.
//
// The package knows the protocol: routing, AWS Signature Version 4 (header and
// presigned query), ranges, XML bodies and error codes. What the buckets hold comes
// from a Backend: the domestic mirror of foreign open data (anonymous) and the
// exchange's own datasets (signed requests by entitled buyers).
package s3api

import (
	"context"
	"io"
	"time"
)

// Caller is who sent a request: the access key a valid signature proves, or nobody.
type Caller struct {
	AccessKeyID string // empty for an anonymous request
}

// Anonymous reports whether the request carried no signature.
func (c Caller) Anonymous() bool { return c.AccessKeyID == "" }

// Bucket is one bucket ListBuckets shows.
type Bucket struct {
	Name    string
	Created time.Time
}

// ObjectInfo describes one object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	ContentType  string // empty: application/octet-stream
}

// ListQuery is one page of a listing as the backend sees it.
type ListQuery struct {
	Prefix     string
	Delimiter  string // "" or a single character string such as "/"
	StartAfter string // list keys after this one (first page only)
	Token      string // the backend's own Next from the previous page, "" on the first page
	MaxKeys    int    // 1 to 1000
}

// ListPage is what a backend returns for a ListQuery: keys in ascending byte order,
// and the common prefixes the delimiter rolls up (each counted against MaxKeys).
type ListPage struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	Truncated      bool
	Next           string // opaque: passed back as ListQuery.Token for the next page
}

// A ListPage's Next travels to the client inside a continuation token and comes
// back as ListQuery.Token unverified (the endpoint checks only that the token was
// issued for the same bucket, prefix and delimiter): a backend must treat Token as
// untrusted input.

// Backend is what the endpoint serves. Errors are *Error values (NoSuchBucket,
// NoSuchKey, AccessDenied, …) or dataport errors, which map by kind: not found →
// NoSuchKey (NoSuchBucket for a request that names no key), forbidden or
// unauthenticated → AccessDenied, unavailable → ServiceUnavailable, anything else →
// InternalError.
type Backend interface {
	// Buckets lists the buckets the caller may see.
	Buckets(ctx context.Context, c Caller) ([]Bucket, error)
	// Region is the bucket's region (GetBucketLocation); it fails with NoSuchBucket
	// or AccessDenied like any other call on the bucket.
	Region(ctx context.Context, c Caller, bucket string) (string, error)
	// List lists one page of a bucket.
	List(ctx context.Context, c Caller, bucket string, q ListQuery) (ListPage, error)
	// Head describes one object.
	Head(ctx context.Context, c Caller, bucket, key string) (ObjectInfo, error)
	// Get streams length bytes of the object from offset (length -1: to the end).
	// The endpoint has already checked the range against Head's size. The reader
	// must fail (not end early) if the bytes cannot all be delivered, so that a
	// client sees a broken transfer rather than a short file.
	Get(ctx context.Context, c Caller, bucket, key string, offset, length int64) (io.ReadCloser, error)
}

// Keys finds the secret of an access key, for checking SigV4 signatures. A key
// that does not exist or is revoked returns an error of kind not found.
type Keys interface {
	Secret(ctx context.Context, accessKeyID string) (string, error)
}
