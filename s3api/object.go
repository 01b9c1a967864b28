package s3api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The response-* query parameters of GetObject that override response headers
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
var responseOverrides = [...]struct{ param, header string }{
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
	{"response-content-language", "Content-Language"},
	{"response-content-type", "Content-Type"},
	{"response-expires", "Expires"},
}

// object serves GetObject and HeadObject.
func (h *handler) object(c *call) {
	ctx := c.r.Context()
	if c.query.Has("versionId") && c.query.Get("versionId") != "null" {
		// Buckets are not versioned: the only version is "null".
		h.fail(c, errorf(http.StatusNotFound, "NoSuchVersion", "The specified version does not exist."))
		return
	}
	rangeHeader := c.r.Header.Get("Range")
	if c.query.Has("partNumber") {
		// Objects are stored whole: part 1 is the object.
		n, err := strconv.Atoi(c.query.Get("partNumber"))
		switch {
		case rangeHeader != "":
			h.fail(c, errorf(http.StatusBadRequest, "InvalidRequest", "Cannot specify both Range header and partNumber query parameter"))
			return
		case err != nil || n < 1 || n > 10000:
			h.fail(c, ErrInvalidArgument("Part number must be an integer between 1 and 10000, inclusive"))
			return
		case n != 1:
			h.fail(c, errorf(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber", "The requested partnumber is not satisfiable"))
			return
		}
	}
	// S3 lets only signed requests override response headers, so that nobody can
	// hand out a link that serves an object as, say, text/html.
	overrides := http.Header{}
	for _, o := range responseOverrides {
		if c.query.Has(o.param) {
			overrides.Set(o.header, c.query.Get(o.param))
		}
	}
	if len(overrides) > 0 && c.caller.Anonymous() {
		h.fail(c, errorf(http.StatusBadRequest, "InvalidRequest", "Request specific response headers cannot be used for anonymous GET requests."))
		return
	}

	info, err := h.b.Head(ctx, c.caller, c.bucket, c.key)
	if err != nil {
		h.fail(c, err)
		return
	}
	etag := quoteETag(info.ETag)
	hd := c.w.Header()
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", etag)
	hd.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))

	switch checkPreconditions(c.r, info.ETag, info.LastModified) {
	case http.StatusNotModified:
		c.w.WriteHeader(http.StatusNotModified)
		return
	case http.StatusPreconditionFailed:
		clearObjectHeaders(hd)
		h.fail(c, errPreconditionFailed())
		return
	}

	offset, length, partial, ok := parseRange(rangeHeader, info.Size)
	if !ok {
		clearObjectHeaders(hd)
		hd.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		h.fail(c, errInvalidRange())
		return
	}

	var body io.ReadCloser
	if c.r.Method == http.MethodGet && length > 0 {
		body, err = h.b.Get(ctx, c.caller, c.bucket, c.key, offset, length)
		if err != nil {
			clearObjectHeaders(hd)
			h.fail(c, err)
			return
		}
		defer body.Close()
	}

	ctype := info.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	hd.Set("Content-Type", ctype)
	for k, v := range overrides {
		hd[k] = v
	}
	hd.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hd.Set("Content-Range", "bytes "+strconv.FormatInt(offset, 10)+"-"+
			strconv.FormatInt(offset+length-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
	}
	c.w.WriteHeader(status)
	if body == nil {
		return
	}

	// The last byte is held back until the backend's reader has said the object
	// ended (io.EOF): a backend checks what it streams at the end (the mirror its
	// size and hash, delivery that the last byte went out), and a client must not
	// hold every byte of an object that proves bad at its end.
	r := &readErr{r: body}
	var n int64
	if length > 0 {
		n, _ = io.Copy(c.w, io.LimitReader(r, length-1))
		var last [1]byte
		if n == length-1 {
			if _, err := io.ReadFull(r, last[:]); err == nil && r.atEOF() {
				if k, _ := c.w.Write(last[:]); k == 1 {
					n++
				}
			}
		}
	}
	if n < length {
		// The status and length are sent: breaking the connection is the only way
		// left to tell the client that the object did not arrive whole.
		switch {
		case r.err == nil || ctx.Err() != nil:
			// The client went away; nothing to report.
		case errors.Is(r.err, io.EOF):
			h.log.Error("s3api: object ended early", "request_id", c.id,
				"bucket", c.bucket, "key", c.key, "sent", n, "length", length)
		default:
			h.log.Error("s3api: object read failed mid-transfer", "request_id", c.id,
				"bucket", c.bucket, "key", c.key, "sent", n, "length", length, "err", r.err)
		}
		panic(http.ErrAbortHandler)
	}
}

// readErr remembers the error of the reader, to tell a failed read from a client
// that went away.
type readErr struct {
	r   io.Reader
	err error
}

// atEOF reads past the end the endpoint expects: true when the reader ends
// there; a reader with more bytes is an error (the backend's length was wrong).
func (r *readErr) atEOF() bool {
	var b [1]byte
	for range 100 {
		k, err := r.Read(b[:])
		switch {
		case k > 0:
			r.err = errors.New("the object is longer than its length")
			return false
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			return false
		}
	}
	r.err = io.ErrNoProgress
	return false
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

func clearObjectHeaders(hd http.Header) {
	for _, k := range []string{"Accept-Ranges", "ETag", "Last-Modified"} {
		hd.Del(k)
	}
}

// checkPreconditions evaluates the conditional headers in the order of RFC 9110
// section 13.2.2, which S3 follows
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): If-Match,
// else If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since
// (304). It returns 0 when the request may proceed.
func checkPreconditions(r *http.Request, etag string, modified time.Time) int {
	modified = modified.Truncate(time.Second)
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagListMatches(im, etag) {
			return http.StatusPreconditionFailed
		}
	} else if t, ok := headerTime(r, "If-Unmodified-Since"); ok && modified.After(t) {
		return http.StatusPreconditionFailed
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagListMatches(inm, etag) {
			return http.StatusNotModified
		}
	} else if t, ok := headerTime(r, "If-Modified-Since"); ok && !modified.After(t) {
		return http.StatusNotModified
	}
	return 0
}

func headerTime(r *http.Request, name string) (time.Time, bool) {
	v := r.Header.Get(name)
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	return t, err == nil
}

// etagListMatches reports whether the comma-separated entity tags of a
// conditional header include etag (unquoted) or are "*". Quotes and a weak W/
// prefix are ignored, as clients differ in sending them.
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// parseRange interprets a Range header against an object of size bytes
// (RFC 9110 section 14). Like S3 it serves one range only: a header it cannot
// use (another unit, a syntax error, several ranges) is ignored and the whole
// object is sent. ok is false when the range is unsatisfiable (416).
func parseRange(header string, size int64) (offset, length int64, partial, ok bool) {
	whole := func() (int64, int64, bool, bool) { return 0, size, false, true }
	if header == "" {
		return whole()
	}
	unit, spec, found := strings.Cut(header, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(spec, ",") {
		return whole()
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return whole()
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// bytes=-n: the last n bytes.
		n, err := strconv.ParseInt(last, 10, 64)
		if !isDigits(last) || err != nil {
			return whole()
		}
		if n == 0 || size == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if !isDigits(first) || err != nil {
		return whole()
	}
	b := size - 1
	if last != "" {
		b, err = strconv.ParseInt(last, 10, 64)
		if !isDigits(last) || err != nil || b < a {
			return whole()
		}
		b = min(b, size-1)
	}
	if a >= size {
		return 0, 0, false, false
	}
	return a, b - a + 1, true, true
}
