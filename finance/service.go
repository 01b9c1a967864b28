package finance

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Options adjust the service. The zero value is right for production.
type Options struct {
	// SpoolDir holds a batch's validated rows while the rest of it arrives, once
	// they outgrow memory (8 MiB); the system's temporary folder when empty.
	SpoolDir string
	// MaxBatchOrders caps the rows of one batch (default 250,000). A batch is
	// applied in one transaction, which holds the exchange's writer while it runs
	// (about two seconds per 100,000 orders on SQLite on a small server): larger
	// exports are sent as several batches, each attested on its own.
	MaxBatchOrders int64
	// MaxBatchBytes caps the bytes of one batch (default 1 GiB).
	MaxBatchBytes int64
	// StreamChunkOrders closes a live-stream chunk after this many lines (default 1,000).
	StreamChunkOrders int
	// StreamChunkDelay closes a live-stream chunk this long after its first line
	// arrived, however few lines it holds (default 200 ms): the most an order
	// waits before it counts in the features.
	StreamChunkDelay time.Duration
}

// Service is the financing side's data capability: shops, order data, features.
type Service struct {
	db    *store.DB
	reg   *registry.Service
	opts  Options
	stmts *statements
	hooks []func(tx *store.Tx, a Applied) error // see OnApplied
}

// New returns the service over db.
func New(db *store.DB, reg *registry.Service, opts Options) *Service {
	if opts.SpoolDir == "" {
		opts.SpoolDir = os.TempDir()
	}
	if opts.MaxBatchOrders <= 0 {
		opts.MaxBatchOrders = 250_000
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 1 << 30
	}
	if opts.StreamChunkOrders <= 0 {
		opts.StreamChunkOrders = 1000
	}
	if opts.StreamChunkDelay <= 0 {
		opts.StreamChunkDelay = 200 * time.Millisecond
	}
	return &Service{db: db, reg: reg, opts: opts, stmts: newStatements(db.Engine())}
}

// NewShop connects a shop to a merchant.
type NewShop struct {
	Platform   string `json:"platform" pattern:"^[a-z0-9][a-z0-9_-]{0,31}$" doc:"the e-commerce platform, lower case: taobao, jd, pinduoduo, douyin, amazon, shopee …"`
	ExternalID string `json:"external_id" minLength:"1" maxLength:"128" doc:"the shop's id on its platform"`
	Name       string `json:"name" minLength:"1" maxLength:"200"`
}

// Shop is a merchant's shop on an e-commerce platform.
type Shop struct {
	ID          string    `json:"id"`
	MerchantID  string    `json:"merchant_id"`
	Platform    string    `json:"platform"`
	ExternalID  string    `json:"external_id"`
	Name        string    `json:"name"`
	ConnectedBy string    `json:"connected_by"`
	ConnectedAt time.Time `json:"connected_at"`
}

var platformPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func (n *NewShop) validate(op string) error {
	n.Platform = strings.ToLower(strings.TrimSpace(n.Platform))
	n.ExternalID = strings.TrimSpace(n.ExternalID)
	n.Name = strings.TrimSpace(n.Name)
	var p dataport.Problems
	if !platformPattern.MatchString(n.Platform) {
		p.Add("platform", "a platform name of lower-case letters, digits, - and _, at most 32: taobao, jd, amazon …")
	}
	if !printable(n.ExternalID, 128) {
		p.Add("external_id", "the shop's id on its platform: 1 to 128 characters, no control characters")
	}
	if !printable(n.Name, 800) || utf8.RuneCountInString(n.Name) > 200 {
		p.Add("name", "1 to 200 characters, no control characters")
	}
	return p.Err(op)
}

// printable reports whether s is valid UTF-8 of 1 to max bytes without control characters.
func printable(s string, max int) bool {
	return s != "" && len(s) <= max && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// mayUse checks that actor may change the financing data of merchantID: the
// merchant itself acting in its merchant role, or the operator; both active.
// Anyone else is told there is no such merchant.
func (s *Service) mayUse(tx *store.Tx, op string, actor dataport.Actor, merchantID string) error {
	return s.may(tx, op, actor, merchantID, true)
}

// mayRead checks that actor may read the financing data of merchantID: the merchant
// itself acting in its merchant role, or the operator. A suspension stops changes,
// not a participant's view of its own records, as everywhere on the exchange (README,
// "The API in brief"; lending and trade read the same way), and the operator reads a
// suspended merchant's data while it looks into it.
func (s *Service) mayRead(tx *store.Tx, op string, actor dataport.Actor, merchantID string) error {
	return s.may(tx, op, actor, merchantID, false)
}

func (s *Service) may(tx *store.Tx, op string, actor dataport.Actor, merchantID string, change bool) error {
	if err := registry.MayAct(tx, op, actor); err != nil && (change || dataport.KindOf(err) != dataport.KindForbidden) {
		return err
	}
	operator := actor.Has(dataport.RoleOperator)
	if !operator && actor.ParticipantID != merchantID {
		return noMerchant(op, merchantID)
	}
	if !operator && !actor.Has(dataport.RoleMerchant) {
		return dataport.Errorf(op, dataport.KindForbidden, "this needs the merchant role")
	}
	p, err := s.reg.Participant(tx, merchantID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return noMerchant(op, merchantID)
	}
	if err != nil {
		return dataport.Wrap(op, err)
	}
	if !p.Has(dataport.RoleMerchant) {
		return noMerchant(op, merchantID)
	}
	if change && p.Status == registry.Suspended {
		return dataport.Errorf(op, dataport.KindForbidden, "merchant %s is suspended by the exchange", merchantID)
	}
	return nil
}

func noMerchant(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no merchant %s", id)
}

// ConnectShop connects a shop to the merchant. The merchant itself or the operator.
//
// Errors: KindInvalid naming the wrong fields; KindConflict when the merchant has
// connected this platform's shop already; KindNotFound, KindForbidden,
// KindUnauthorized.
func (s *Service) ConnectShop(ctx context.Context, actor dataport.Actor, merchantID string, n NewShop) (Shop, error) {
	const op = "finance.ConnectShop"
	if err := n.validate(op); err != nil {
		return Shop{}, err
	}
	var sh Shop
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := s.mayUse(tx, op, actor, merchantID); err != nil {
			return err
		}
		sh = Shop{ID: dataport.NewID("shp"), MerchantID: merchantID, Platform: n.Platform, ExternalID: n.ExternalID,
			Name: n.Name, ConnectedBy: actor.ParticipantID, ConnectedAt: tx.Now()}
		_, err := tx.Exec(`INSERT INTO finance_shops (id, merchant_id, platform, external_id, name, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, sh.ID, merchantID, sh.Platform, sh.ExternalID, sh.Name, sh.ConnectedBy, store.FormatTime(sh.ConnectedAt))
		if store.IsUniqueViolation(err) {
			msg := "this merchant has connected this shop already"
			return &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: msg,
				Fields: []dataport.FieldProblem{{Field: "external_id", Message: msg}}}
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "finance.shop_connected", Subjects: []string{merchantID, sh.ID},
			Payload: map[string]any{"merchant_id": merchantID, "shop_id": sh.ID, "platform": sh.Platform, "external_id": sh.ExternalID, "name": sh.Name}})
		return err
	})
	return sh, err
}

// Shops lists the merchant's shops in the order they were connected.
func (s *Service) Shops(ctx context.Context, actor dataport.Actor, merchantID string) ([]Shop, error) {
	const op = "finance.Shops"
	var out []Shop
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayRead(tx, op, actor, merchantID); err != nil {
			return err
		}
		var err error
		out, err = shops(tx, merchantID)
		return dataport.Wrap(op, err)
	})
	return out, err
}

func shops(tx *store.Tx, merchantID string) ([]Shop, error) {
	rows, err := tx.Query(`SELECT id, platform, external_id, name, created_by, created_at FROM finance_shops
		WHERE merchant_id = $1 ORDER BY id`, merchantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Shop{}
	for rows.Next() {
		sh := Shop{MerchantID: merchantID}
		var at string
		if err := rows.Scan(&sh.ID, &sh.Platform, &sh.ExternalID, &sh.Name, &sh.ConnectedBy, &at); err != nil {
			return nil, err
		}
		if sh.ConnectedAt, err = store.ParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

// Batch is an attested batch of order data, or one chunk of a live stream.
type Batch struct {
	ID           string    `json:"id"`
	MerchantID   string    `json:"merchant_id"`
	Kind         string    `json:"kind" enum:"batch,stream"`
	Format       string    `json:"format" enum:"csv,jsonl"`
	StreamID     string    `json:"stream_id,omitempty"`
	Seq          int64     `json:"seq,omitempty" doc:"a stream chunk's number, from 1"`
	SHA256       string    `json:"sha256" doc:"SHA-256 of exactly the bytes received (the chunk's, for a stream)"`
	StreamSHA256 string    `json:"stream_sha256,omitempty" doc:"SHA-256 of the stream's bytes from its start through this chunk"`
	Bytes        int64     `json:"bytes"`
	Rows         int64     `json:"rows"`
	Accepted     int64     `json:"accepted"`
	Inserted     int64     `json:"inserted"`
	Updated      int64     `json:"updated"`
	Duplicates   int64     `json:"duplicates"`
	Stale        int64     `json:"stale"`
	Rejected     int64     `json:"rejected"`
	FirstOrderAt time.Time `json:"first_order_at,omitzero"`
	LastOrderAt  time.Time `json:"last_order_at,omitzero"`
	FilingSeq    int64     `json:"filing_seq" doc:"the filing that attests it"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
}

// Batches lists the merchant's attested batches and stream chunks, newest first,
// at most limit (100 when 0, 1,000 at most), before the batch id before (paging;
// "" for the newest).
func (s *Service) Batches(ctx context.Context, actor dataport.Actor, merchantID, before string, limit int) ([]Batch, error) {
	const op = "finance.Batches"
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []Batch
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayRead(tx, op, actor, merchantID); err != nil {
			return err
		}
		q := `SELECT id, kind, format, stream_id, seq, sha256, stream_sha256, bytes, rows_read, accepted, inserted,
			updated, duplicates, stale, rejected, first_order_at, last_order_at, filing_seq, created_by, created_at
			FROM finance_batches WHERE merchant_id = $1`
		args := []any{merchantID}
		if before != "" {
			q += ` AND id < $3`
			args = append(args, limit, before)
		} else {
			args = append(args, limit)
		}
		rows, err := tx.Query(q+` ORDER BY id DESC LIMIT $2`, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		out = []Batch{}
		for rows.Next() {
			b := Batch{MerchantID: merchantID}
			var first, last, created string
			if err := rows.Scan(&b.ID, &b.Kind, &b.Format, &b.StreamID, &b.Seq, &b.SHA256, &b.StreamSHA256, &b.Bytes, &b.Rows,
				&b.Accepted, &b.Inserted, &b.Updated, &b.Duplicates, &b.Stale, &b.Rejected, &first, &last, &b.FilingSeq,
				&b.CreatedBy, &created); err != nil {
				return dataport.Internal(op, err)
			}
			b.FirstOrderAt, _ = store.ParseTime(first)
			b.LastOrderAt, _ = store.ParseTime(last)
			b.CreatedAt, _ = store.ParseTime(created)
			out = append(out, b)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

var errNoRows = sql.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
