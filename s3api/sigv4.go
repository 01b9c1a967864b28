package s3api

// AWS Signature Version 4 for Amazon S3, header and query-string (presigned) forms:
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
)

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4Terminal   = "aws4_request"
	sigV4Service    = "s3"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"

	// maxClockSkew is how far a header-signed request's time may be from ours
	// before S3 answers RequestTimeTooSkewed.
	maxClockSkew = 15 * time.Minute
	// maxPresignExpires is the longest X-Amz-Expires S3 accepts: seven days.
	maxPresignExpires = 7 * 24 * 60 * 60

	unsignedPayload = "UNSIGNED-PAYLOAD"
	streamingPrefix = "STREAMING-"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// verifier checks SigV4 signatures against the secrets of Keys.
type verifier struct {
	region string // the region a credential scope must name
	keys   Keys
	now    func() time.Time
}

// sigV4Auth is what a request says about its own signature.
type sigV4Auth struct {
	accessKey     string
	scopeDate     string // yyyymmdd
	scopeRegion   string
	scopeService  string
	scopeTerminal string
	signedHeaders []string
	signature     string
	amzDate       string // the request time in ISO 8601 basic format, as signed
	time          time.Time
	payloadHash   string
	presigned     bool
	expires       int64 // seconds, presigned only
}

func (a *sigV4Auth) scope() string {
	return a.scopeDate + "/" + a.scopeRegion + "/" + a.scopeService + "/" + a.scopeTerminal
}

// authenticate returns who signed r, or Caller{} for an unsigned request. A request
// that carries a signature which does not verify is refused: it never falls back
// to anonymous access.
func (v *verifier) authenticate(r *http.Request) (Caller, error) {
	authz := r.Header.Get("Authorization")
	q := r.URL.Query()
	presigned := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature") || q.Has("X-Amz-SignedHeaders")
	v2Query := q.Has("AWSAccessKeyId") || (q.Has("Signature") && q.Has("Expires"))

	switch {
	case authz == "" && !presigned && !v2Query:
		return Caller{}, nil
	case (authz != "" && (presigned || v2Query)) || (presigned && v2Query):
		return Caller{}, errorf(http.StatusBadRequest, "InvalidArgument",
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case v2Query || strings.HasPrefix(authz, "AWS "):
		// S3's answer to Signature Version 2 in every region opened since 2014; s3cmd
		// recognises this exact message and switches to Signature Version 4.
		return Caller{}, errorf(http.StatusBadRequest, "InvalidRequest",
			"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}

	var a *sigV4Auth
	var err error
	if presigned {
		a, err = v.parseQuery(r, q)
	} else {
		a, err = v.parseHeader(r, authz)
	}
	if err != nil {
		return Caller{}, err
	}

	secret, err := v.secret(r, a.accessKey)
	if err != nil {
		return Caller{}, err
	}
	if !a.verify(r, secret) {
		return Caller{}, errorf(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	// A signed hash of an empty body must be the empty hash; only reads are
	// served, so a body is never read and its hash never checked otherwise.
	if isHexSHA256(a.payloadHash) && r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		!strings.EqualFold(a.payloadHash, emptySHA256) {
		return Caller{}, errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return Caller{AccessKeyID: a.accessKey}, nil
}

func (v *verifier) secret(r *http.Request, accessKey string) (string, error) {
	if v.keys == nil {
		return "", errInvalidAccessKey()
	}
	secret, err := v.keys.Secret(r.Context(), accessKey)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", e
		}
		if dataport.KindOf(err) == dataport.KindNotFound {
			return "", errInvalidAccessKey()
		}
		return "", err
	}
	if secret == "" {
		return "", errInvalidAccessKey()
	}
	return secret, nil
}

// verify checks the signature against the canonical URI built from the decoded
// path, which is what clients that follow the specification sign, and failing that
// against the path exactly as sent: some signers sign the path they send without
// normalising it (a raw '+', a "%7E" for '~'). Both name the same object.
func (a *sigV4Auth) verify(r *http.Request, secret string) bool {
	got := []byte(strings.ToLower(a.signature))
	uri := canonicalURI(r.URL.Path)
	if hmac.Equal([]byte(signature(secret, a, canonicalRequest(r, a, uri))), got) {
		return true
	}
	raw, _, _ := strings.Cut(r.RequestURI, "?")
	if raw == "" || raw == uri || !strings.HasPrefix(raw, "/") {
		return false
	}
	return hmac.Equal([]byte(signature(secret, a, canonicalRequest(r, a, raw))), got)
}

func errInvalidAccessKey() *Error {
	return errorf(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
}

func errHeaderMalformed(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; "+format, args...)
}

func errQueryMalformed(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "AuthorizationQueryParametersError", format, args...)
}

// parseHeader reads the Authorization header form:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
//	SignedHeaders=host;range;x-amz-date, Signature=fe5f80f7…
func (v *verifier) parseHeader(r *http.Request, authz string) (*sigV4Auth, error) {
	rest, ok := strings.CutPrefix(authz, sigV4Algorithm)
	if !ok || (rest != "" && rest[0] != ' ') {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "Unsupported Authorization Type")
	}
	a := &sigV4Auth{}
	var cred, signed string
	var haveCred, haveSigned, haveSig bool
	for field := range strings.SplitSeq(strings.TrimSpace(rest), ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return nil, errHeaderMalformed("the authorization component %q is malformed.", strings.TrimSpace(field))
		}
		dup := false
		switch k {
		case "Credential":
			dup, haveCred, cred = haveCred, true, val
		case "SignedHeaders":
			dup, haveSigned, signed = haveSigned, true, val
		case "Signature":
			dup, haveSig, a.signature = haveSig, true, val
		default:
			return nil, errHeaderMalformed("the authorization component %q is malformed.", strings.TrimSpace(field))
		}
		if dup {
			return nil, errHeaderMalformed("the authorization component %q is repeated.", k)
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return nil, errHeaderMalformed("the authorization header requires the Credential, SignedHeaders and Signature components.")
	}
	if err := a.parseCredential(cred); err != nil {
		return nil, errHeaderMalformed("%s", err.Error())
	}
	if a.signedHeaders = parseSignedHeaders(signed); a.signedHeaders == nil {
		return nil, errHeaderMalformed("the SignedHeaders component %q is malformed.", signed)
	}

	// The request time: X-Amz-Date, or else the Date header.
	dateHeader := "x-amz-date"
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateLayout, d)
		if err != nil {
			return nil, errorf(http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
		}
		a.time, a.amzDate = t, d
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, errorf(http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
		}
		a.time, a.amzDate, dateHeader = t.UTC(), t.UTC().Format(amzDateLayout), "date"
	} else {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
	}
	if a.scopeDate != a.amzDate[:8] {
		return nil, errHeaderMalformed("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if err := v.checkScope(r, a); err != nil {
		e := errHeaderMalformed("%s", err.Error())
		if a.scopeRegion != v.region {
			e.region = v.region
		}
		return nil, e
	}

	// The payload hash is required for S3 and, like the host and the time, must
	// itself be signed.
	a.payloadHash = r.Header.Get("X-Amz-Content-Sha256")
	mustSign := []string{"host", dateHeader}
	if a.payloadHash != "" {
		mustSign = append(mustSign, "x-amz-content-sha256")
		if !validPayloadHash(a.payloadHash) {
			return nil, ErrInvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.")
		}
	} else {
		a.payloadHash = emptySHA256
	}
	if missing := unsigned(a.signedHeaders, mustSign); missing != "" {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed: %s", missing)
	}

	now := v.now()
	if d := now.Sub(a.time); d > maxClockSkew || d < -maxClockSkew {
		return nil, errorf(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	}
	return a, nil
}

// parseQuery reads the presigned URL form (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature).
func (v *verifier) parseQuery(r *http.Request, q url.Values) (*sigV4Auth, error) {
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if q.Get(p) == "" {
			return nil, errQueryMalformed("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
		return nil, errQueryMalformed("X-Amz-Algorithm only supports \"%s\"", sigV4Algorithm)
	}
	a := &sigV4Auth{presigned: true, signature: q.Get("X-Amz-Signature")}
	if err := a.parseCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, errQueryMalformed("Error parsing the X-Amz-Credential parameter; %s", err.Error())
	}
	if a.signedHeaders = parseSignedHeaders(q.Get("X-Amz-SignedHeaders")); a.signedHeaders == nil {
		return nil, errQueryMalformed("Error parsing the X-Amz-SignedHeaders parameter.")
	}
	a.amzDate = q.Get("X-Amz-Date")
	t, err := time.Parse(amzDateLayout, a.amzDate)
	if err != nil {
		return nil, errQueryMalformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.time = t
	a.expires, err = strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	switch {
	case err != nil:
		return nil, errQueryMalformed("X-Amz-Expires should be a number")
	case a.expires < 0:
		return nil, errQueryMalformed("X-Amz-Expires must be non-negative")
	case a.expires > maxPresignExpires:
		return nil, errQueryMalformed("X-Amz-Expires must be less than a week (in seconds) that is %d", maxPresignExpires)
	}
	if a.scopeDate != a.amzDate[:8] {
		return nil, errQueryMalformed("Error parsing the X-Amz-Credential parameter; Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if err := v.checkScope(r, a); err != nil {
		e := errQueryMalformed("Error parsing the X-Amz-Credential parameter; %s", err.Error())
		if a.scopeRegion != v.region {
			e.region = v.region
		}
		return nil, e
	}
	if missing := unsigned(a.signedHeaders, []string{"host"}); missing != "" {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed: %s", missing)
	}
	// A presigned URL's payload is unsigned unless the URL says otherwise.
	a.payloadHash = unsignedPayload
	if h := q.Get("X-Amz-Content-Sha256"); h != "" {
		if !validPayloadHash(h) {
			return nil, ErrInvalidArgument("X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.")
		}
		a.payloadHash = h
	}

	now := v.now()
	if now.Before(a.time.Add(-maxClockSkew)) {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "Request is not valid yet")
	}
	if now.After(a.time.Add(time.Duration(a.expires) * time.Second)) {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "Request has expired")
	}
	return a, nil
}

// parseCredential splits AKID/yyyymmdd/region/service/aws4_request.
func (a *sigV4Auth) parseCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return errors.New("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	n := len(parts)
	a.accessKey = strings.Join(parts[:n-4], "/")
	a.scopeDate, a.scopeRegion, a.scopeService, a.scopeTerminal = parts[n-4], parts[n-3], parts[n-2], parts[n-1]
	if a.accessKey == "" {
		return errors.New("the Credential is mal-formed; the access key is empty.")
	}
	if _, err := time.Parse(scopeDateLayout, a.scopeDate); err != nil {
		return errors.New("incorrect date format \"" + a.scopeDate + "\". This date in the credential must be in the format \"yyyyMMdd\".")
	}
	return nil
}

// checkScope checks the region, service and terminal of the credential scope.
// ListBuckets and GetBucketLocation may be signed for us-east-1 whatever the
// endpoint's region, as on S3's global endpoint: clients send them before they
// know the region (minio-go, s3cmd).
func (v *verifier) checkScope(r *http.Request, a *sigV4Auth) error {
	if a.scopeRegion != v.region && !(a.scopeRegion == "us-east-1" && isGlobalRequest(r)) {
		return errors.New("the region '" + a.scopeRegion + "' is wrong; expecting '" + v.region + "'")
	}
	if a.scopeService != sigV4Service {
		return errors.New("incorrect service \"" + a.scopeService + "\". This endpoint belongs to \"" + sigV4Service + "\".")
	}
	if a.scopeTerminal != sigV4Terminal {
		return errors.New("incorrect terminal \"" + a.scopeTerminal + "\". This endpoint uses \"" + sigV4Terminal + "\".")
	}
	return nil
}

// isGlobalRequest reports whether r is GET / (ListBuckets) or GET /bucket?location.
func isGlobalRequest(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	p := strings.Trim(r.URL.Path, "/")
	return p == "" || (!strings.Contains(p, "/") && r.URL.Query().Has("location"))
}

func parseSignedHeaders(s string) []string {
	if s == "" {
		return nil
	}
	hs := strings.Split(s, ";")
	for _, h := range hs {
		if h == "" || h != strings.ToLower(h) || strings.TrimSpace(h) != h {
			return nil
		}
	}
	return hs
}

// unsigned returns the first of required that signed lacks, or "".
func unsigned(signed, required []string) string {
	for _, h := range required {
		if !slices.Contains(signed, h) {
			return h
		}
	}
	return ""
}

func validPayloadHash(h string) bool {
	return h == unsignedPayload || strings.HasPrefix(h, streamingPrefix) || isHexSHA256(h)
}

func isHexSHA256(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// canonicalRequest builds the canonical request of a SigV4 signature:
//
//	HTTPMethod \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n
//	SignedHeaders \n HashedPayload
//
// uri is the canonical URI: for S3 the path with each segment URI-encoded once,
// not twice as for other services. The query is every parameter, encoded and
// sorted, less X-Amz-Signature for a presigned URL.
func canonicalRequest(r *http.Request, a *sigV4Auth, uri string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, a.presigned))
	b.WriteByte('\n')
	for _, h := range a.signedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(a.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(a.payloadHash)
	return b.String()
}

// signature computes the hex signature of a canonical request:
//
//	StringToSign = "AWS4-HMAC-SHA256" \n timestamp \n scope \n hex(SHA256(canonical request))
//	SigningKey = HMAC chain of "AWS4"+secret, date, region, service, "aws4_request"
func signature(secret string, a *sigV4Auth, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	sts := sigV4Algorithm + "\n" + a.amzDate + "\n" + a.scope() + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), a.scopeDate)
	k = hmacSHA256(k, a.scopeRegion)
	k = hmacSHA256(k, a.scopeService)
	k = hmacSHA256(k, a.scopeTerminal)
	return hex.EncodeToString(hmacSHA256(k, sts))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURI encodes the decoded request path: every byte but the unreserved
// characters and '/' is %XX with upper-case hex.
func canonicalURI(path string) string {
	if path == "" {
		return "/"
	}
	return uriEncode(path, false)
}

// canonicalQuery decodes the raw query and re-encodes each name and value, sorted
// by name and then value. Parameters without '=' have an empty value.
func canonicalQuery(raw string, presigned bool) string {
	type pair struct{ k, v string }
	var ps []pair
	for seg := range strings.SplitSeq(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		ps = append(ps, pair{uriEncode(k, true), uriEncode(v, true)})
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// canonicalHeaderValue is the header's values, each trimmed with runs of spaces
// collapsed, joined by commas. Go keeps the Host header in r.Host.
func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	default:
		vals = slices.Clone(r.Header.Values(name))
		if len(vals) == 0 && name == "content-length" && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	}
	for i, v := range vals {
		vals[i] = collapseSpaces(v)
	}
	return strings.Join(vals, ",")
}

// collapseSpaces trims leading and trailing spaces and turns each run of spaces
// into one, as the specification asks of canonical header values.
func collapseSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	prev := byte(0)
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && prev == ' ' {
			continue
		}
		prev = s[i]
		b.WriteByte(s[i])
	}
	return b.String()
}

// uriEncode is the UriEncode of the SigV4 specification: bytes other than
// A-Z a-z 0-9 - . _ ~ become %XX (upper-case hex); '/' too when encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
