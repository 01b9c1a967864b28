package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
)

// Mode says what a download request is.
type Mode int

const (
	// Fresh starts a delivery: one use of the entitlement is counted and filed.
	Fresh Mode = iota
	// Resume continues the latest unfinished delivery of the same file (a Range
	// request from a later offset); with none to continue it is Fresh.
	Resume
	// Peek checks the entitlement and describes the file (HEAD) without delivering.
	Peek
)

// Download is an entitled file, open for reading.
type Download struct {
	blob.Object
	DeliveryID string // empty for a Peek
	DealID     string
	File       File
	Manifest   Manifest
}

// DealManifest returns the manifest of the files a deal delivers: the sealed files
// of the deal's revision (or of the latest revision sealed before it). The buyer
// only, while the entitlement is usable.
func (s *Service) DealManifest(ctx context.Context, actor dataport.Actor, dealID string) (Manifest, error) {
	const op = "delivery.DealManifest"
	var m Manifest
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		e, err := s.entitled(tx, actor, dealID, "", true)
		if err != nil {
			return err
		}
		m, err = sealed(tx, op, e.ProductID, e.Revision, true)
		return err
	})
	return m, err
}

// entitled asks trade whether the buyer may download path under deal dealID now,
// from its registered jurisdiction (R-territory: the buyer's own, not what a client
// claims). With check the use is not counted.
func (s *Service) entitled(tx *store.Tx, actor dataport.Actor, dealID, path string, check bool) (trade.Entitlement, error) {
	territory := ""
	if !actor.Anonymous() {
		if p, err := s.reg.Participant(tx, actor.ParticipantID); err == nil {
			territory = p.Jurisdiction
		}
	}
	return trade.UseIn(tx, actor, dealID, trade.Access{Kind: "download", Territory: territory, Object: path, Resume: check})
}

// Open opens file path of deal dealID for the buyer. A Fresh open counts one use
// of the entitlement (refused once the contract's uses are spent) and records a
// delivery in the same transaction; Resume continues the latest unfinished delivery
// of the file without counting; Peek only checks.
func (s *Service) Open(ctx context.Context, actor dataport.Actor, dealID, path string, mode Mode) (*Download, error) {
	const op = "delivery.Open"
	if !ValidPath(path) {
		return nil, badPath(op)
	}
	d := &Download{DealID: dealID}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		e, err := s.entitled(tx, actor, dealID, path, true)
		if err != nil {
			return err
		}
		if d.Manifest, err = sealed(tx, op, e.ProductID, e.Revision, true); err != nil {
			return err
		}
		f, ok := d.Manifest.File(path)
		if !ok {
			return dataport.Errorf(op, dataport.KindNotFound, "the deal's files have no %s", path)
		}
		d.File = f
		if mode == Resume {
			err := tx.QueryRow(`SELECT id FROM deliveries WHERE deal_id = $1 AND path = $2 AND sha256 = $3 AND completed_at = ''
				ORDER BY started_at DESC, id DESC LIMIT 1`, dealID, path, f.SHA256).Scan(&d.DeliveryID)
			if err != nil && !errors.Is(err, errNoRows) {
				return dataport.Internal(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if mode == Fresh || (mode == Resume && d.DeliveryID == "") {
		err = s.db.Write(ctx, func(tx *store.Tx) error {
			e, err := s.entitled(tx, actor, dealID, path, false)
			if err != nil {
				return err
			}
			d.DeliveryID = dataport.NewID("dlv")
			if _, err := tx.Exec(`INSERT INTO deliveries (id, deal_id, path, sha256, size, started_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, '')`,
				d.DeliveryID, dealID, path, d.File.SHA256, d.File.Size, store.FormatTime(tx.Now())); err != nil {
				return dataport.Internal(op, err)
			}
			_, err = ledger.File(tx, actor, ledger.Change{Type: "delivery.started", Subjects: []string{dealID, d.DeliveryID, e.ID},
				Payload: map[string]any{"deal_id": dealID, "delivery_id": d.DeliveryID, "path": path, "sha256": d.File.SHA256, "size": d.File.Size,
					"merkle_root": d.Manifest.MerkleRoot, "use": e.Uses, "of": e.MaxUses}})
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	o, err := s.blobs.Open(ctx, d.File.SHA256)
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	d.Object = o
	return d, nil
}

// Complete records that the last byte of a delivery went out, and files it. When
// every file of the deal's manifest has been delivered whole, the buyer's delivery
// is confirmed for settlement: the escrow is released and the certificate issued.
func (s *Service) Complete(ctx context.Context, actor dataport.Actor, d *Download) error {
	const op = "delivery.Complete"
	if d.DeliveryID == "" {
		return nil
	}
	all := false
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`UPDATE deliveries SET completed_at = $2 WHERE id = $1 AND completed_at = ''`, d.DeliveryID, store.FormatTime(tx.Now()))
		if err != nil {
			return dataport.Internal(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errDone
		}
		if _, err := ledger.File(tx, actor, ledger.Change{Type: "delivery.completed", Subjects: []string{d.DealID, d.DeliveryID},
			Payload: map[string]any{"deal_id": d.DealID, "delivery_id": d.DeliveryID, "path": d.File.Path, "sha256": d.File.SHA256,
				"size": d.File.Size, "merkle_root": d.Manifest.MerkleRoot}}); err != nil {
			return err
		}
		paths, err := tx.Strings(`SELECT DISTINCT path || ' ' || sha256 FROM deliveries WHERE deal_id = $1 AND completed_at <> ''`, d.DealID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		done := map[string]bool{}
		for _, p := range paths {
			done[p] = true
		}
		all = true
		for _, f := range d.Manifest.Files {
			all = all && done[f.Path+" "+f.SHA256]
		}
		return nil
	})
	if errors.Is(err, errDone) {
		return nil
	}
	if err != nil || !all {
		return err
	}
	_, err = s.deals.ConfirmDelivery(ctx, actor, d.DealID, "delivered "+d.DealID)
	if dataport.KindOf(err) == dataport.KindConflict {
		return nil // settled already: confirmed by the buyer or the acceptance window
	}
	return err
}

// Deliveries lists a deal's deliveries: what the certificate's delivery log shows.
type Delivery struct {
	ID          string    `json:"id"`
	Path        string    `json:"path"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Deliveries lists the deliveries of a deal to its buyer (the buyer, the deal's
// provider, the operator and regulators may look).
func (s *Service) Deliveries(ctx context.Context, actor dataport.Actor, dealID string) ([]Delivery, error) {
	const op = "delivery.Deliveries"
	out := []Delivery{}
	_, err := s.deals.Get(ctx, actor, dealID)
	if err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT id, path, sha256, size, started_at, completed_at FROM deliveries WHERE deal_id = $1 ORDER BY started_at, id`, dealID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var d Delivery
			var started, completed string
			if err := rows.Scan(&d.ID, &d.Path, &d.SHA256, &d.Size, &started, &completed); err != nil {
				return dataport.Internal(op, err)
			}
			d.StartedAt, _ = store.ParseTime(started)
			if completed != "" {
				d.CompletedAt, _ = store.ParseTime(completed)
			}
			out = append(out, d)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// Signed links hand a download to another tool (a download manager, a script on
// another machine) without the buyer's API key: the link names the deal, the file,
// the buyer and an expiry, signed with HMAC-SHA256 under the exchange's link key.
// The entitlement is checked when the link is used, so a suspension or a spent
// entitlement stops a link at once.

// MaxLinkTTL is the longest a link lives.
const MaxLinkTTL = 24 * time.Hour

// Link is a signed download link's query.
type Link struct {
	Query     string    `json:"query" doc:"append to the download URL: ?path=…&by=…&expires=…&sig=…"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Service) linkSig(dealID, path, by string, expires int64) string {
	m := hmac.New(sha256.New, s.opts.LinkKey)
	fmt.Fprintf(m, "dataport download link v1\n%s\n%s\n%s\n%d", dealID, path, by, expires)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// MakeLink signs a link to file path of deal dealID for ttl (at most MaxLinkTTL).
func (s *Service) MakeLink(ctx context.Context, actor dataport.Actor, dealID, path string, ttl time.Duration) (Link, error) {
	const op = "delivery.MakeLink"
	if ttl <= 0 || ttl > MaxLinkTTL {
		return Link{}, dataport.Invalid(op, dataport.FieldProblem{Field: "ttl_seconds", Message: "from 1 second to 24 hours"})
	}
	if _, err := s.Open(ctx, actor, dealID, path, Peek); err != nil {
		return Link{}, err
	}
	exp := s.db.Clock().Now().Add(ttl).Truncate(time.Second)
	v := url.Values{"path": {path}, "by": {actor.ParticipantID}, "expires": {strconv.FormatInt(exp.Unix(), 10)},
		"sig": {s.linkSig(dealID, path, actor.ParticipantID, exp.Unix())}}
	return Link{Query: v.Encode(), ExpiresAt: exp.UTC()}, nil
}

// LinkActor checks a signed link's query and returns the buyer it acts for.
func (s *Service) LinkActor(dealID string, q url.Values) (dataport.Actor, error) {
	const op = "delivery.LinkActor"
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return dataport.Actor{}, dataport.Errorf(op, dataport.KindUnauthorized, "the link has no valid expiry")
	}
	want := s.linkSig(dealID, q.Get("path"), q.Get("by"), exp)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return dataport.Actor{}, dataport.Errorf(op, dataport.KindUnauthorized, "the link's signature does not match")
	}
	if s.db.Clock().Now().Unix() > exp {
		return dataport.Actor{}, dataport.Errorf(op, dataport.KindUnauthorized, "the link expired at %s", time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return dataport.Actor{ParticipantID: q.Get("by"), KeyID: "link", Roles: []dataport.Role{dataport.RoleBuyer}}, nil
}

var errDone = errors.New("already done")
