package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Attachments (附件): the third-party compliance assessment report, product
// description and quality report a listing cites. Suppliers and agents upload them
// first; the bytes go to the blob store under their SHA-256, and a revision cites
// them by that hash. A revision may only cite documents uploaded by the product's
// supplier or its agent, so nobody lists under another firm's assessment report.

// MaxAttachment is the largest attachment taken.
const MaxAttachment = 32 << 20

// UploadedAttachment is an attachment as its uploader sees it.
type UploadedAttachment struct {
	SHA256     string    `json:"sha256" doc:"cite this in a revision's attachments"`
	Size       int64     `json:"size"`
	MediaType  string    `json:"media_type"`
	Name       string    `json:"name"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// NewAttachment describes an upload.
type NewAttachment struct {
	Name      string // the file name shown to readers
	MediaType string // e.g. application/pdf
}

func (n *NewAttachment) validate(op string) error {
	var p dataport.Problems
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || utf8.RuneCountInString(n.Name) > 200 || strings.ContainsAny(n.Name, `/\`) ||
		strings.IndexFunc(n.Name, unicode.IsControl) >= 0 {
		p.Add("name", "a file name of 1 to 200 characters, without slashes or control characters")
	}
	if n.MediaType == "" {
		n.MediaType = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(n.MediaType)
	if err != nil {
		p.Add("content_type", "a media type such as application/pdf")
	} else {
		n.MediaType = mime.FormatMediaType(mt, params)
	}
	return p.Err(op)
}

// UploadAttachment streams r into the blob store and records that actor uploaded it.
// Suppliers, agents and the operator. Uploading the same bytes again returns the first upload.
func (s *Service) UploadAttachment(ctx context.Context, actor dataport.Actor, n NewAttachment, r io.Reader) (UploadedAttachment, error) {
	const op = "catalog.UploadAttachment"
	if err := n.validate(op); err != nil {
		return UploadedAttachment{}, err
	}
	mayUpload := func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		// Suppliers and agents document products; the operator files the evidence of
		// the approvals it records (compliance).
		if !actor.Has(dataport.RoleSupplier, dataport.RoleAgent, dataport.RoleOperator) {
			return dataport.Errorf(op, dataport.KindForbidden, "attachments are uploaded by suppliers, agents and the operator")
		}
		return nil
	}
	// Check before taking the bytes, and again when recording them: a suspension that
	// lands during the upload still stops it.
	if err := s.db.Read(ctx, mayUpload); err != nil {
		return UploadedAttachment{}, err
	}
	if s.blobs == nil {
		return UploadedAttachment{}, dataport.Errorf(op, dataport.KindUnavailable, "no blob store is configured")
	}
	info, err := s.blobs.Put(ctx, r, MaxAttachment, "")
	if err != nil {
		return UploadedAttachment{}, dataport.Wrap(op, err)
	}
	var out UploadedAttachment
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayUpload(tx); err != nil {
			return err
		}
		var err error
		out, err = uploaded(tx, info.SHA256, actor.ParticipantID)
		if err == nil {
			// Already uploaded by this participant; it is still filed, as every write is.
			_, err = ledger.File(tx, actor, ledger.Change{Type: "attachment.uploaded", Subjects: []string{actor.ParticipantID},
				Payload: map[string]any{"sha256": out.SHA256, "size": out.Size, "media_type": out.MediaType, "again": true}})
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dataport.Internal(op, err)
		}
		out = UploadedAttachment{SHA256: info.SHA256, Size: info.Size, MediaType: n.MediaType, Name: n.Name,
			UploadedBy: actor.ParticipantID, UploadedAt: tx.Now()}
		if _, err := tx.Exec(`INSERT INTO attachments (sha256, participant_id, size, media_type, name, uploaded_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, out.SHA256, out.UploadedBy, out.Size, out.MediaType, out.Name,
			store.FormatTime(out.UploadedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "attachment.uploaded", Subjects: []string{actor.ParticipantID},
			Payload: map[string]any{"sha256": out.SHA256, "size": out.Size, "media_type": out.MediaType}})
		return err
	})
	return out, err
}

func uploaded(tx *store.Tx, sum, participant string) (UploadedAttachment, error) {
	a := UploadedAttachment{SHA256: sum, UploadedBy: participant}
	var at string
	err := tx.QueryRow(`SELECT size, media_type, name, uploaded_at FROM attachments WHERE sha256 = $1 AND participant_id = $2`,
		sum, participant).Scan(&a.Size, &a.MediaType, &a.Name, &at)
	a.UploadedAt, _ = store.ParseTime(at)
	return a, err
}

// Attachments lists the actor's uploads, newest first.
func (s *Service) Attachments(ctx context.Context, actor dataport.Actor, limit int) ([]UploadedAttachment, error) {
	const op = "catalog.Attachments"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	out := []UploadedAttachment{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT sha256, size, media_type, name, uploaded_at FROM attachments
			WHERE participant_id = $1 ORDER BY uploaded_at DESC, sha256 LIMIT $2`, actor.ParticipantID, limit)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			a := UploadedAttachment{UploadedBy: actor.ParticipantID}
			var at string
			if err := rows.Scan(&a.SHA256, &a.Size, &a.MediaType, &a.Name, &at); err != nil {
				return dataport.Internal(op, err)
			}
			a.UploadedAt, _ = store.ParseTime(at)
			out = append(out, a)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// attachmentsExist adds a problem for each attachment of d that none of owners (the
// supplier, and the agent acting for it) uploaded.
func (s *Service) attachmentsExist(tx *store.Tx, d *Details, p *Product, problems *dataport.Problems) error {
	owners := []string{p.SupplierID}
	if p.AgentID != "" {
		owners = append(owners, p.AgentID)
	}
	for i, a := range d.Attachments {
		if !blob.ValidAddress(a.SHA256) {
			continue // validate has said so
		}
		var n int64
		if err := tx.QueryRow(`SELECT COUNT(*) FROM attachments WHERE sha256 = $1 AND participant_id IN ($2, $3)`,
			a.SHA256, owners[0], owners[len(owners)-1]).Scan(&n); err != nil {
			return dataport.Internal("catalog.attachmentsExist", err)
		}
		if n == 0 {
			problems.Add(fmt.Sprintf("attachments[%d].sha256", i), "no attachment with this hash was uploaded by the supplier or its agent")
		}
	}
	return nil
}

// AttachmentContent is an open attachment with what a download needs.
type AttachmentContent struct {
	blob.Object
	Name      string
	MediaType string
}

// OpenAttachment opens an attachment cited by a product revision the actor may read:
// the listed revision for everyone who may see the product, any revision for its
// parties, the operator and regulators. The caller closes it.
func (s *Service) OpenAttachment(ctx context.Context, actor dataport.Actor, productID, sum string) (AttachmentContent, error) {
	const op = "catalog.OpenAttachment"
	if actor.Anonymous() {
		return AttachmentContent{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var cited Attachment
	var owners []string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		p, err := get(tx, op, productID, 0)
		if err != nil {
			return err
		}
		revs := []int64{}
		switch {
		case canRead(actor, &p):
			for r := p.LatestRevision; r >= 1; r-- {
				revs = append(revs, r)
			}
		case visible(tx, &p):
			revs = append(revs, p.ListedRevision)
		default:
			return notFound(op, productID)
		}
		for _, r := range revs {
			rp := p
			if r != p.LatestRevision {
				if rp, err = get(tx, op, productID, r); err != nil {
					return err
				}
			}
			if i := slices.IndexFunc(rp.Details.Attachments, func(a Attachment) bool { return a.SHA256 == sum }); i >= 0 {
				cited = rp.Details.Attachments[i]
				owners = []string{p.SupplierID, p.AgentID}
				return nil
			}
		}
		return dataport.Errorf(op, dataport.KindNotFound, "product %s cites no attachment %s", productID, sum)
	})
	if err != nil {
		return AttachmentContent{}, err
	}
	var meta UploadedAttachment
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		for _, o := range owners {
			if o == "" {
				continue
			}
			var err error
			if meta, err = uploaded(tx, sum, o); err == nil {
				return nil
			} else if !errors.Is(err, sql.ErrNoRows) {
				return dataport.Internal(op, err)
			}
		}
		return dataport.Internal(op, fmt.Errorf("attachment %s of product %s has no upload record", sum, productID))
	})
	if err != nil {
		return AttachmentContent{}, err
	}
	if s.blobs == nil {
		return AttachmentContent{}, dataport.Errorf(op, dataport.KindUnavailable, "no blob store is configured")
	}
	obj, err := s.blobs.Open(ctx, sum)
	if err != nil {
		if dataport.KindOf(err) == dataport.KindNotFound { // recorded but gone: the store lost it
			return AttachmentContent{}, dataport.Internal(op, err)
		}
		return AttachmentContent{}, dataport.Wrap(op, err)
	}
	name := cited.Name
	if name == "" {
		name = meta.Name
	}
	return AttachmentContent{Object: obj, Name: name, MediaType: meta.MediaType}, nil
}
