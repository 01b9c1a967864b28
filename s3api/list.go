package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxListKeys    = 1000
	maxListBuckets = 10000
	s3TimeLayout   = "2006-01-02T15:04:05.000Z"
)

type owner struct {
	ID          string
	DisplayName string
}

var theOwner = owner{ID: ownerID, DisplayName: ownerID}

// ListBuckets: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html

type listAllMyBucketsResult struct {
	XMLName           xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner             owner
	Buckets           bucketList
	ContinuationToken string `xml:",omitempty"`
	Prefix            string `xml:",omitempty"`
}

type bucketList struct {
	Bucket []bucketEntry
}

type bucketEntry struct {
	Name         string
	CreationDate string
}

// listBuckets answers GET /. The optional prefix, max-buckets and
// continuation-token parameters page through the backend's list.
func (h *handler) listBuckets(c *call) {
	prefix := c.query.Get("prefix")
	limit := maxListBuckets
	if c.query.Has("max-buckets") {
		n, err := strconv.Atoi(c.query.Get("max-buckets"))
		if err != nil || n < 1 || n > maxListBuckets {
			h.fail(c, ErrInvalidArgument("max-buckets must be an integer between 1 and %d", maxListBuckets))
			return
		}
		limit = n
	}
	after := ""
	if c.query.Has("continuation-token") {
		b, err := base64.RawURLEncoding.DecodeString(c.query.Get("continuation-token"))
		if err != nil || len(b) == 0 {
			h.fail(c, ErrInvalidArgument("The continuation token provided is incorrect"))
			return
		}
		after = string(b)
	}

	buckets, err := h.b.Buckets(c.r.Context(), c.caller)
	if err != nil {
		h.fail(c, err)
		return
	}
	slices.SortFunc(buckets, func(a, b Bucket) int { return strings.Compare(a.Name, b.Name) })
	res := listAllMyBucketsResult{Owner: theOwner, Prefix: prefix, Buckets: bucketList{Bucket: []bucketEntry{}}}
	for _, b := range buckets {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if len(res.Buckets.Bucket) == limit {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets.Bucket[limit-1].Name))
			break
		}
		res.Buckets.Bucket = append(res.Buckets.Bucket, bucketEntry{Name: b.Name, CreationDate: s3Time(b.Created)})
	}
	h.writeXML(c, http.StatusOK, res)
}

// ListObjects (V1) and ListObjectsV2 share the ListBucketResult element:
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html

type listBucketResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	Marker                *string `xml:",omitempty"` // V1: always present
	NextMarker            string  `xml:",omitempty"`
	ContinuationToken     string  `xml:",omitempty"`
	NextContinuationToken string  `xml:",omitempty"`
	StartAfter            string  `xml:",omitempty"`
	KeyCount              *int    `xml:",omitempty"` // V2 only
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	IsTruncated           bool
	Contents              []objectEntry
	CommonPrefixes        []commonPrefix
}

type objectEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	Owner        *owner `xml:",omitempty"`
	StorageClass string
}

type commonPrefix struct {
	Prefix string
}

// listParams are the parameters V1 and V2 share.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func parseListParams(c *call) (listParams, error) {
	p := listParams{prefix: c.query.Get("prefix"), delimiter: c.query.Get("delimiter"), maxKeys: maxListKeys}
	if utf8.RuneCountInString(p.delimiter) > 1 {
		return p, ErrInvalidArgument("The delimiter must be a single character")
	}
	switch c.query.Get("encoding-type") {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, ErrInvalidArgument("Invalid Encoding Method specified in Request")
	}
	if c.query.Has("max-keys") {
		s := c.query.Get("max-keys")
		switch {
		case isDigits(s):
			// S3 returns at most 1000 keys whatever max-keys asks for.
			n, err := strconv.Atoi(s)
			if err != nil { // out of int range: a very large number
				n = maxListKeys
			}
			p.maxKeys = min(n, maxListKeys)
		case strings.HasPrefix(s, "-") && isDigits(s[1:]):
			return p, ErrInvalidArgument("Argument maxKeys must be an integer between 0 and 2147483647")
		default:
			return p, ErrInvalidArgument("Provided max-keys not an integer or within integer range")
		}
	}
	return p, nil
}

func (h *handler) listObjectsV2(c *call) {
	p, err := parseListParams(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	q := ListQuery{Prefix: p.prefix, Delimiter: p.delimiter}
	startAfter := c.query.Get("start-after")
	token, hasToken := c.query.Get("continuation-token"), c.query.Has("continuation-token")
	skip := ""
	if hasToken {
		// A continuation token supersedes start-after (S3 ignores the latter).
		next, ok := decodeContinuation(token, c.bucket, p.prefix, p.delimiter)
		if !ok {
			h.fail(c, ErrInvalidArgument("The continuation token provided is incorrect"))
			return
		}
		q.Token = next
	} else {
		q.StartAfter = startAfter
		skip = rolledUpMarker(startAfter, p.prefix, p.delimiter)
	}
	pg, err := h.list(c, q, p.maxKeys, skip)
	if err != nil {
		h.fail(c, err)
		return
	}

	enc := encoder(p.urlEncode)
	keyCount := len(pg.objects) + len(pg.prefixes)
	res := listBucketResult{
		Name:              c.bucket,
		Prefix:            enc(p.prefix),
		ContinuationToken: token,
		StartAfter:        enc(startAfter),
		KeyCount:          &keyCount,
		MaxKeys:           p.maxKeys,
		Delimiter:         enc(p.delimiter),
		IsTruncated:       pg.truncated,
		Contents:          objectEntries(pg.objects, enc, c.query.Get("fetch-owner") == "true"),
		CommonPrefixes:    commonPrefixes(pg.prefixes, enc),
	}
	if p.urlEncode {
		res.EncodingType = "url"
	}
	if pg.truncated {
		res.NextContinuationToken = encodeContinuation(c.bucket, p.prefix, p.delimiter, pg.next)
	}
	h.writeXML(c, http.StatusOK, res)
}

// listObjectsV1 serves ListObjects, which pages by marker: a key to list after.
//
// With no delimiter a client continues after the last key it got, and marker is
// simply the backend's StartAfter. With a delimiter S3 returns NextMarker, the last
// key or common prefix of the page, and the client sends it back as marker. When
// the marker is a common prefix ("photos/" for delimiter "/"), listing after it
// would roll the rest of that prefix's keys up into the same common prefix again,
// so it is dropped from the results: a marker names a position, and everything
// the prefix stands for lies at or before it. Markers are thus plain keys, which
// also serve a client that makes up its own.
func (h *handler) listObjectsV1(c *call) {
	p, err := parseListParams(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	marker := c.query.Get("marker")
	q := ListQuery{Prefix: p.prefix, Delimiter: p.delimiter, StartAfter: marker}
	pg, err := h.list(c, q, p.maxKeys, rolledUpMarker(marker, p.prefix, p.delimiter))
	if err != nil {
		h.fail(c, err)
		return
	}

	enc := encoder(p.urlEncode)
	encMarker := enc(marker)
	res := listBucketResult{
		Name:           c.bucket,
		Prefix:         enc(p.prefix),
		Marker:         &encMarker,
		MaxKeys:        p.maxKeys,
		Delimiter:      enc(p.delimiter),
		IsTruncated:    pg.truncated,
		Contents:       objectEntries(pg.objects, enc, true),
		CommonPrefixes: commonPrefixes(pg.prefixes, enc),
	}
	if p.urlEncode {
		res.EncodingType = "url"
	}
	if pg.truncated && p.delimiter != "" {
		last := ""
		if n := len(pg.objects); n > 0 {
			last = pg.objects[n-1].Key
		}
		if n := len(pg.prefixes); n > 0 && pg.prefixes[n-1] > last {
			last = pg.prefixes[n-1]
		}
		res.NextMarker = enc(last)
	}
	h.writeXML(c, http.StatusOK, res)
}

// rolledUpMarker returns marker when it is itself a common prefix of the listing
// (the prefix, then anything without the delimiter, then the delimiter), else "".
func rolledUpMarker(marker, prefix, delimiter string) string {
	if delimiter == "" || !strings.HasPrefix(marker, prefix) {
		return ""
	}
	rest := marker[len(prefix):]
	if i := strings.Index(rest, delimiter); i >= 0 && i+len(delimiter) == len(rest) {
		return marker
	}
	return ""
}

type listing struct {
	objects   []ObjectInfo
	prefixes  []string
	truncated bool
	next      string
}

var errTruncatedNoNext = errors.New("s3api: backend returned a truncated list page without Next")

// list asks the backend for up to want entries (keys and common prefixes),
// leaving out the common prefix skip, and asks again when that left the page
// short. With want 0 it still asks, for one entry, so that a missing bucket or a
// refusal is reported, and returns nothing.
func (h *handler) list(c *call, q ListQuery, want int, skip string) (listing, error) {
	var l listing
	if want == 0 {
		q.MaxKeys = 1
		_, err := h.b.List(c.r.Context(), c.caller, c.bucket, q)
		return l, err
	}
	for {
		q.MaxKeys = want - len(l.objects) - len(l.prefixes)
		pg, err := h.b.List(c.r.Context(), c.caller, c.bucket, q)
		if err != nil {
			return listing{}, err
		}
		l.objects = append(l.objects, pg.Objects...)
		for _, p := range pg.CommonPrefixes {
			if skip == "" || p != skip {
				l.prefixes = append(l.prefixes, p)
			}
		}
		l.truncated, l.next = pg.Truncated, pg.Next
		if l.truncated && l.next == "" {
			return listing{}, errTruncatedNoNext
		}
		if !l.truncated || len(l.objects)+len(l.prefixes) >= want {
			return l, nil
		}
		q.Token, q.StartAfter = l.next, ""
	}
}

func objectEntries(objs []ObjectInfo, enc func(string) string, withOwner bool) []objectEntry {
	out := make([]objectEntry, len(objs))
	for i, o := range objs {
		out[i] = objectEntry{
			Key:          enc(o.Key),
			LastModified: s3Time(o.LastModified),
			ETag:         quoteETag(o.ETag),
			Size:         o.Size,
			StorageClass: "STANDARD",
		}
		if withOwner {
			out[i].Owner = &theOwner
		}
	}
	return out
}

func commonPrefixes(ps []string, enc func(string) string) []commonPrefix {
	out := make([]commonPrefix, len(ps))
	for i, p := range ps {
		out[i] = commonPrefix{Prefix: enc(p)}
	}
	return out
}

func s3Time(t time.Time) string { return t.UTC().Format(s3TimeLayout) }

func quoteETag(etag string) string { return `"` + etag + `"` }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Continuation tokens of ListObjectsV2 carry the backend's Next together with the
// bucket, prefix and delimiter of the listing, so that a token is refused rather
// than misread when it is sent with another listing. Layout, base64url without
// padding: version byte 1, then four length-prefixed (uvarint) strings.
const tokenVersion = 1

func encodeContinuation(bucket, prefix, delimiter, next string) string {
	b := []byte{tokenVersion}
	for _, s := range []string{bucket, prefix, delimiter, next} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinuation(token, bucket, prefix, delimiter string) (next string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) == 0 || b[0] != tokenVersion {
		return "", false
	}
	b = b[1:]
	var fields [4]string
	for i := range fields {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return "", false
		}
		fields[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	if len(b) != 0 || fields[0] != bucket || fields[1] != prefix || fields[2] != delimiter || fields[3] == "" {
		return "", false
	}
	return fields[3], true
}

// encoder returns the identity, or with encoding-type=url the encoding S3 applies
// to keys, prefixes, delimiters and markers in a listing. S3 encodes as an HTML
// form does (space as '+') but leaves '/' alone; clients decode with the
// equivalent of url.QueryUnescape.
func encoder(urlEncode bool) func(string) string {
	if !urlEncode {
		return func(s string) string { return s }
	}
	return s3URLEncode
}

func s3URLEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '*', c == '/':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
