package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/delivery"
)

type revisionPath struct {
	ID       string `path:"id" doc:"product id"`
	Revision int64  `path:"rev" minimum:"1" doc:"the product revision"`
}

type uploadOutput struct {
	Offset   string `header:"Upload-Offset" doc:"bytes the server holds"`
	Location string `header:"Location"`
	Body     struct {
		delivery.Upload
		File *delivery.File `json:"file,omitempty" doc:"the file, once the last byte arrived"`
	}
}

func (s *Server) uploadOut(u delivery.Upload, f *delivery.File, err error) (*uploadOutput, error) {
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"body": "body"})
	}
	out := &uploadOutput{Offset: strconv.FormatInt(u.Received, 10), Location: "/api/v1/uploads/" + u.ID}
	out.Body.Upload, out.Body.File = u, f
	return out, nil
}

type startUploadInput struct {
	ID       string `path:"id" doc:"product id"`
	Revision int64  `path:"rev" minimum:"1" doc:"the product revision"`
	Body     delivery.NewUpload
}

func (s *Server) startUpload(ctx context.Context, in *startUploadInput) (*uploadOutput, error) {
	u, err := s.Delivery.StartUpload(ctx, actorOf(ctx), in.ID, in.Revision, in.Body)
	var f *delivery.File
	if err == nil && u.State == "complete" {
		f = &delivery.File{Path: u.Path, Size: 0, SHA256: u.SHA256, MediaType: u.MediaType}
	}
	return s.uploadOut(u, f, err)
}

type uploadPath struct {
	ID string `path:"id" doc:"upload id"`
}

func (s *Server) getUpload(ctx context.Context, in *uploadPath) (*uploadOutput, error) {
	u, err := s.Delivery.GetUpload(ctx, actorOf(ctx), in.ID)
	return s.uploadOut(u, nil, err)
}

func (s *Server) abortUpload(ctx context.Context, in *uploadPath) (*uploadOutput, error) {
	u, err := s.Delivery.AbortUpload(ctx, actorOf(ctx), in.ID)
	return s.uploadOut(u, nil, err)
}

// chunkInput takes a chunk as the raw body, streamed to the staging file.
type chunkInput struct {
	ID     string `path:"id" doc:"upload id"`
	Offset int64  `header:"Upload-Offset" required:"true" minimum:"0" doc:"where this chunk starts: the upload's received count"`
	body   io.Reader
}

func (in *chunkInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	return nil
}

func (s *Server) writeChunk(ctx context.Context, in *chunkInput) (*uploadOutput, error) {
	u, f, err := s.Delivery.WriteChunk(ctx, actorOf(ctx), in.ID, in.Offset, in.body)
	return s.uploadOut(u, f, err)
}

// putFileInput takes a whole file as the raw body (not resumable).
type putFileInput struct {
	ID        string `path:"id" doc:"product id"`
	Revision  int64  `path:"rev" minimum:"1" doc:"the product revision"`
	Path      string `query:"path" required:"true" maxLength:"1024" doc:"where the file sits in the revision"`
	SHA256    string `query:"sha256" pattern:"^[0-9a-f]{64}$" doc:"the file's SHA-256, checked"`
	Size      int64  `header:"Content-Length" doc:"the file's size"`
	MediaType string `header:"Content-Type"`
	body      io.Reader
}

func (in *putFileInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	if ctx.Header("Content-Length") == "" {
		in.Size = -1
	}
	return nil
}

type fileOutput struct {
	Body delivery.File
}

func (s *Server) putFile(ctx context.Context, in *putFileInput) (*fileOutput, error) {
	f, err := s.Delivery.PutFile(ctx, actorOf(ctx), in.ID, in.Revision,
		delivery.NewUpload{Path: in.Path, Size: in.Size, SHA256: in.SHA256, MediaType: in.MediaType}, in.body)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"path": "query.path", "sha256": "query.sha256", "size": "header.Content-Length", "media_type": "header.Content-Type"})
	}
	return &fileOutput{Body: f}, nil
}

type filesOutput struct {
	Body struct {
		Items []delivery.File `json:"items"`
	}
}

func (s *Server) listFiles(ctx context.Context, in *revisionPath) (*filesOutput, error) {
	fs, err := s.Delivery.Files(ctx, actorOf(ctx), in.ID, in.Revision)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &filesOutput{}
	out.Body.Items = fs
	return out, nil
}

type manifestOutput struct {
	Body struct {
		delivery.Manifest
		Proof *delivery.FileProof `json:"proof,omitempty" doc:"with ?path=: the file's inclusion proof in merkle_root"`
	}
}

func (s *Server) manifestOut(m delivery.Manifest, proveFile string, err error) (*manifestOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	out := &manifestOutput{}
	out.Body.Manifest = m
	if proveFile != "" {
		p, ok := m.Prove(proveFile)
		if !ok {
			return nil, s.problem(dataport.Errorf("delivery.Prove", dataport.KindNotFound, "the manifest has no %s", proveFile))
		}
		out.Body.Proof = &p
	}
	return out, nil
}

func (s *Server) sealManifest(ctx context.Context, in *revisionPath) (*manifestOutput, error) {
	m, err := s.Delivery.Seal(ctx, actorOf(ctx), in.ID, in.Revision)
	return s.manifestOut(m, "", err)
}

type manifestInput struct {
	ID       string `path:"id" doc:"product id"`
	Revision int64  `path:"rev" minimum:"1" doc:"the product revision"`
	Path     string `query:"path" maxLength:"1024" doc:"prove this file's inclusion"`
}

func (s *Server) getManifest(ctx context.Context, in *manifestInput) (*manifestOutput, error) {
	m, err := s.Delivery.Manifest(ctx, actorOf(ctx), in.ID, in.Revision)
	return s.manifestOut(m, in.Path, err)
}

type dealManifestInput struct {
	ID   string `path:"id" doc:"deal id"`
	Path string `query:"path" maxLength:"1024" doc:"prove this file's inclusion"`
}

func (s *Server) dealManifest(ctx context.Context, in *dealManifestInput) (*manifestOutput, error) {
	m, err := s.Delivery.DealManifest(ctx, actorOf(ctx), in.ID)
	return s.manifestOut(m, in.Path, err)
}

type dealDeliveriesOutput struct {
	Body struct {
		Items []delivery.Delivery `json:"items"`
	}
}

func (s *Server) dealDeliveries(ctx context.Context, in *dealPath) (*dealDeliveriesOutput, error) {
	ds, err := s.Delivery.Deliveries(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &dealDeliveriesOutput{}
	out.Body.Items = ds
	return out, nil
}

type linkInput struct {
	ID   string `path:"id" doc:"deal id"`
	Body struct {
		Path       string `json:"path" maxLength:"1024"`
		TTLSeconds int64  `json:"ttl_seconds,omitempty" minimum:"1" maximum:"86400" default:"900" doc:"how long the link works"`
	}
}

type linkOutput struct {
	Body struct {
		URL       string    `json:"url" doc:"the download URL, usable without an API key until it expires"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

func (s *Server) makeLink(ctx context.Context, in *linkInput) (*linkOutput, error) {
	ttl := in.Body.TTLSeconds
	if ttl == 0 {
		ttl = 900
	}
	l, err := s.Delivery.MakeLink(ctx, actorOf(ctx), in.ID, in.Body.Path, time.Duration(ttl)*time.Second)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"path": "body.path", "ttl_seconds": "body.ttl_seconds"})
	}
	out := &linkOutput{}
	out.Body.URL = "/api/v1/deals/" + url.PathEscape(in.ID) + "/download?" + l.Query
	out.Body.ExpiresAt = l.ExpiresAt
	return out, nil
}

// downloadInput is a download: by the buyer's API key, or by a signed link's query.
type downloadInput struct {
	ID      string `path:"id" doc:"deal id"`
	Path    string `query:"path" required:"true" maxLength:"1024" doc:"the file, as the deal's manifest names it"`
	By      string `query:"by" doc:"signed links: the buyer"`
	Expires string `query:"expires" doc:"signed links: expiry, Unix seconds"`
	Sig     string `query:"sig" doc:"signed links: the signature"`
	Range   string `header:"Range" doc:"bytes=N- resumes an unfinished download without counting a use"`
	head    bool
	query   url.Values
}

func (in *downloadInput) Resolve(ctx huma.Context) []error {
	in.head = ctx.Method() == http.MethodHead
	u := ctx.URL()
	in.query = u.Query()
	return nil
}

// resumes reports whether a Range header asks for bytes after the first: the rest
// of a download already begun.
func resumes(rng string) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(rng), "bytes=")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(spec, ",")
	start, _, _ := strings.Cut(strings.TrimSpace(first), "-")
	if start == "" {
		return true // a suffix: the tail of the file
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return err == nil && n > 0
}

// satisfiable reports whether a Range header asks for at least one byte of a file
// of size bytes (RFC 9110 §14.1.1); what is not a byte range is ignored, as
// net/http's ServeContent serves the whole file then.
func satisfiable(rng string, size int64) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(rng), "bytes=")
	if !ok {
		return true
	}
	for _, r := range strings.Split(spec, ",") {
		start, end, ok := strings.Cut(strings.TrimSpace(r), "-")
		if !ok {
			return true // malformed: ServeContent answers it
		}
		if start == "" {
			if n, err := strconv.ParseInt(end, 10, 64); err != nil || n > 0 {
				return true // a non-empty suffix always overlaps
			}
			continue
		}
		if n, err := strconv.ParseInt(start, 10, 64); err != nil || n < size {
			return true
		}
	}
	return false
}

// download streams a deal's file to its buyer with Range support (openDownload,
// sendDownload).
func (s *Server) download(ctx context.Context, in *downloadInput) (*huma.StreamResponse, error) {
	actor := actorOf(ctx)
	if actor.Anonymous() && in.Sig != "" {
		a, err := s.Delivery.LinkActor(in.ID, in.query)
		if err != nil {
			return nil, s.problem(err)
		}
		if in.Path != in.query.Get("path") {
			return nil, s.problem(dataport.Errorf("api.download", dataport.KindUnauthorized, "the link is for another file"))
		}
		actor = a
	}
	d, err := s.openDownload(ctx, actor, in.ID, in.Path, in.head, in.Range)
	var bad *unsatisfiableRange
	if errors.As(err, &bad) {
		return nil, huma.ErrorWithHeaders(huma.NewError(http.StatusRequestedRangeNotSatisfiable, bad.Error()),
			http.Header{"Content-Range": {bad.contentRange()}})
	}
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"path": "query.path"})
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		s.sendDownload(ctx, w, r, actor, d)
	}}, nil
}

// unsatisfiableRange is a Range that asks for no byte of the file: 416, with the
// file's size in Content-Range (RFC 9110 §15.5.17).
type unsatisfiableRange struct {
	size int64
	rng  string
}

func (e *unsatisfiableRange) Error() string {
	return fmt.Sprintf("the file has %d bytes: no byte of %s is in it", e.size, e.rng)
}

func (e *unsatisfiableRange) contentRange() string { return fmt.Sprintf("bytes */%d", e.size) }

// openDownload opens file path of deal dealID for actor as a download request asks:
// HEAD peeks, a Range from a later offset resumes the latest unfinished delivery of
// the file without counting a use, anything else is a fresh delivery (one use of the
// entitlement counted and filed). A resumption's range is checked before anything is
// counted: one past the end is an *unsatisfiableRange. The REST download and a DSP
// transfer's data address (api/dsp_transfer.go) both open files here.
func (s *Server) openDownload(ctx context.Context, actor dataport.Actor, dealID, file string, head bool, rng string) (*delivery.Download, error) {
	mode := delivery.Fresh
	switch {
	case head:
		mode = delivery.Peek
	case resumes(rng):
		mode = delivery.Resume
	}
	if mode == delivery.Resume {
		peek, err := s.Delivery.Open(ctx, actor, dealID, file, delivery.Peek)
		if err != nil {
			return nil, err
		}
		peek.Close()
		if !satisfiable(rng, peek.File.Size) {
			return nil, &unsatisfiableRange{size: peek.File.Size, rng: rng}
		}
	}
	return s.Delivery.Open(ctx, actor, dealID, file, mode)
}

// fileHeaders describes a file sent as an attachment: its media type, its SHA-256 as
// the ETag and as Repr-Digest (RFC 9530) for clients that check, and never cached or
// sniffed.
func fileHeaders(h http.Header, sha256Hex, mediaType, filePath string) {
	sum, _ := hex.DecodeString(sha256Hex)
	if mediaType == "" {
		mediaType = "application/octet-stream"
	}
	h.Set("Content-Type", mediaType)
	h.Set("ETag", strconv.Quote(sha256Hex))
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(filePath)}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
}

// sendDownload streams an open download to w with Range support, and closes it. The
// ETag is the file's SHA-256 from the sealed manifest, so nothing is hashed per
// request, and Repr-Digest (RFC 9530) carries it for clients that check. A delivery
// that sends the file's last byte is recorded complete.
func (s *Server) sendDownload(ctx context.Context, w http.ResponseWriter, r *http.Request, actor dataport.Actor, d *delivery.Download) {
	defer d.Close()
	h := w.Header()
	fileHeaders(h, d.File.SHA256, d.File.MediaType, d.File.Path)
	h.Set("X-Dataport-Merkle-Root", d.Manifest.MerkleRoot)
	if d.DeliveryID != "" {
		h.Set("X-Dataport-Delivery", d.DeliveryID)
	}
	// From the filesystem store, ServeContent gets the blob's own file: with it,
	// and ReadFrom passed down every writer to net/http's, the body goes out by
	// sendfile(2) instead of being copied through the process.
	var content io.ReadSeeker = d
	if f, ok := d.Object.(blob.FileBacked); ok {
		content = f.OSFile()
	}
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", d.Info().Stored, content)
	if d.DeliveryID != "" && cw.sentLastByte(d.File.Size) {
		if err := s.Delivery.Complete(context.WithoutCancel(ctx), actor, d); err != nil {
			s.Logger.Warn("recording a completed delivery", "delivery", d.DeliveryID, "err", err)
		}
	}
}

// countingWriter counts what a response sent, to tell a complete delivery.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// ReadFrom lets ServeContent's copy reach net/http's own ReadFrom, which sends a
// file with sendfile(2); without it every byte would pass through a buffer here.
func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(c.ResponseWriter, src)
	}
	c.n += n
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// sentLastByte reports whether the response delivered the file through its last
// byte: the whole file, or a range ending at the end, every byte of it written.
func (c *countingWriter) sentLastByte(size int64) bool {
	switch c.status {
	case http.StatusOK, 0: // 0: an empty file, nothing written
		return c.n == size
	case http.StatusPartialContent:
		var first, last, total int64
		if _, err := fmt.Sscanf(c.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil {
			return false
		}
		return last == size-1 && c.n == last-first+1
	}
	return false
}
