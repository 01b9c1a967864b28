// Package delivery delivers the exchange's own data: the files of a product revision,
// uploaded by its supplier or agent, sealed in a manifest whose Merkle root is filed,
// and downloaded by buyers under the entitlement their deal granted.
//
// The flow:
//
//	supplier: StartUpload → WriteChunk… (resumable) → the file joins the revision
//	          Seal → the manifest (paths, sizes, SHA-256, Merkle root) is stored and filed
//	buyer:    Open (counts one use of the entitlement, records a delivery)
//	          → the bytes, with Range → Complete → when every file is delivered,
//	          the deal's delivery is confirmed and the escrow released (trade)
//
// A buyer proves what it received is what was published ("data not tampered") with
// the file's SHA-256, its inclusion proof in the manifest's Merkle root, and the
// filing of that root in the log.
package delivery

import (
	"context"
	"database/sql"
	"os"
	"path"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
)

// Options configure the service.
type Options struct {
	// StagingDir holds uploads until they are complete (the server's disk).
	StagingDir string
	// LinkKey signs download links: at least 32 secret bytes, the same on every replica.
	LinkKey []byte
	// MaxFile is the largest file taken (default 1 TiB).
	MaxFile int64
}

// Service is the delivery capability.
type Service struct {
	db    *store.DB
	reg   *registry.Service
	blobs blob.Store
	deals *trade.Service
	opts  Options

	mu      sync.Mutex
	writing map[string]bool // uploads with a chunk being written
}

// New makes the service.
func New(db *store.DB, reg *registry.Service, blobs blob.Store, deals *trade.Service, opts Options) (*Service, error) {
	const op = "delivery.New"
	if opts.MaxFile <= 0 {
		opts.MaxFile = 1 << 40
	}
	if len(opts.LinkKey) < 32 {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the link key needs at least 32 bytes")
	}
	if opts.StagingDir == "" {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "no staging folder")
	}
	if err := os.MkdirAll(opts.StagingDir, 0o750); err != nil {
		return nil, dataport.Internal(op, err)
	}
	deals.SetDeliveryLog(deliveryLog)
	s := &Service{db: db, reg: reg, blobs: blobs, deals: deals, opts: opts, writing: map[string]bool{}}
	if err := s.cleanStaging(context.Background()); err != nil {
		return nil, dataport.Wrap(op, err)
	}
	return s, nil
}

// deliveryLog is a deal's completed deliveries, for its transaction certificate.
func deliveryLog(tx *store.Tx, dealID string) ([]trade.Delivered, error) {
	rows, err := tx.Query(`SELECT path, sha256, size, completed_at FROM deliveries WHERE deal_id = $1 AND completed_at <> ''
		ORDER BY completed_at, id`, dealID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []trade.Delivered
	for rows.Next() {
		var d trade.Delivered
		if err := rows.Scan(&d.Object, &d.SHA256, &d.Size, &d.CompletedAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ValidPath reports whether p names a file in a revision: a relative, clean,
// slash-separated UTF-8 path of at most 1,024 bytes, without "." or ".." segments,
// backslashes or control characters — so that it is safe as a key and a file name
// on every system a buyer downloads to.
func ValidPath(p string) bool {
	if p == "" || len(p) > 1024 || !utf8.ValidString(p) || strings.HasPrefix(p, "/") ||
		strings.ContainsRune(p, '\\') || path.Clean(p) != p || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || seg == "" {
			return false
		}
	}
	return true
}

func badPath(op string) error {
	return dataport.Invalid(op, dataport.FieldProblem{Field: "path",
		Message: "a relative path such as data/2024.csv: no leading slash, no . or .. segments, no backslashes or control characters, at most 1,024 bytes"})
}

var errNoRows = sql.ErrNoRows
