package api

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/dataport/dataport/catalog"
)

// uploadAttachmentInput takes the document as the raw request body, streamed to the
// blob store: never read whole into memory.
type uploadAttachmentInput struct {
	Name        string `query:"name" required:"true" maxLength:"200" doc:"the file name shown to readers"`
	ContentType string `header:"Content-Type" doc:"the document's media type, e.g. application/pdf"`
	body        io.Reader
}

// Resolve hands the body over unread; huma reads bodies only for inputs declaring one.
func (in *uploadAttachmentInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	return nil
}

type attachmentOutput struct {
	Body catalog.UploadedAttachment
}

func (s *Server) uploadAttachment(ctx context.Context, in *uploadAttachmentInput) (*attachmentOutput, error) {
	a, err := s.Catalog.UploadAttachment(ctx, actorOf(ctx), catalog.NewAttachment{Name: in.Name, MediaType: in.ContentType}, in.body)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"name": "query.name", "content_type": "header.Content-Type"})
	}
	return &attachmentOutput{Body: a}, nil
}

// binaryBody documents an operation's raw request body.
func binaryBody(o *huma.Operation) {
	o.MaxBodyBytes = catalog.MaxAttachment + 1 // the service says what is too large, as a problem
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
	}}
}

type attachmentsOutput struct {
	Body struct {
		Items []catalog.UploadedAttachment `json:"items"`
	}
}

type attachmentsInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"500" default:"100"`
}

func (s *Server) listAttachments(ctx context.Context, in *attachmentsInput) (*attachmentsOutput, error) {
	as, err := s.Catalog.Attachments(ctx, actorOf(ctx), in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &attachmentsOutput{}
	out.Body.Items = as
	return out, nil
}

type productAttachmentPath struct {
	ID     string `path:"id" doc:"product id"`
	SHA256 string `path:"sha256" pattern:"^[0-9a-f]{64}$" doc:"the attachment's SHA-256, as cited in the revision"`
}

// productAttachment streams an attachment with Range support; its ETag is its SHA-256.
func (s *Server) productAttachment(ctx context.Context, in *productAttachmentPath) (*huma.StreamResponse, error) {
	a, err := s.Catalog.OpenAttachment(ctx, actorOf(ctx), in.ID, in.SHA256)
	if err != nil {
		return nil, s.problem(err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer a.Close()
		r, w := humago.Unwrap(hctx)
		w.Header().Set("Content-Type", a.MediaType)
		w.Header().Set("ETag", fmt.Sprintf("%q", a.Info().SHA256))
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "private, max-age=3600, immutable")
		http.ServeContent(w, r, strings.ReplaceAll(a.Name, "/", "_"), a.Info().Stored, a)
	}}, nil
}
