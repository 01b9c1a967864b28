package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Manifest is a sealed revision's list of files and the Merkle root over them.
//
// Each file is a leaf: the RFC 8785 canonical JSON of {"path","sha256","size"},
// hashed as an RFC 6962 leaf (SHA-256 of 0x00 ‖ leaf), in path order; the root is
// the RFC 6962 Merkle tree hash over the leaves — the same tree the log uses, so one
// verifier checks both. The manifest itself is stored as a blob; its filing
// (delivery.manifest_sealed) carries the root and the manifest's SHA-256.
type Manifest struct {
	ProductID          string    `json:"product_id"`
	Revision           int64     `json:"revision"`
	RegistrationNumber string    `json:"registration_number,omitempty"`
	Files              []File    `json:"files"`
	Bytes              int64     `json:"bytes"`
	MerkleRoot         string    `json:"merkle_root" doc:"hex RFC 6962 tree hash over the files' leaves"`
	SHA256             string    `json:"sha256,omitempty" doc:"SHA-256 of the manifest's canonical JSON, as stored and filed"`
	FilingSeq          int64     `json:"filing_seq,omitempty" doc:"the filing of the seal, for its inclusion proof in the log"`
	SealedBy           string    `json:"sealed_by,omitempty"`
	SealedAt           time.Time `json:"sealed_at,omitzero"`
}

// Leaf is the canonical JSON leaf of a file.
func Leaf(f File) []byte {
	b, _ := json.Marshal(struct {
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	}{f.Path, f.SHA256, f.Size})
	c, _ := jcs.Transform(b)
	return c
}

// leafHashes are the RFC 6962 leaf hashes of files, in their order.
func leafHashes(files []File) [][]byte {
	out := make([][]byte, len(files))
	for i, f := range files {
		out[i] = ledger.LeafHash(Leaf(f))
	}
	return out
}

func node(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// split is the largest power of two smaller than n (RFC 6962 §2.1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// treeHash is the RFC 6962 Merkle tree hash of leaves (already leaf-hashed).
func treeHash(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return node(treeHash(leaves[:k]), treeHash(leaves[k:]))
}

// auditPath is the RFC 6962 §2.1.1 inclusion proof of leaf m.
func auditPath(m int, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(auditPath(m, leaves[:k]), treeHash(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), treeHash(leaves[:k]))
}

// FileProof proves one file is in a manifest: check it with ledger.CheckInclusion
// (Proof, Index, Size, LeafHash, the manifest's root).
type FileProof struct {
	File     File     `json:"file"`
	Index    int64    `json:"index"`
	Size     int64    `json:"size" doc:"the number of files in the manifest"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof" doc:"hex hashes of the RFC 6962 audit path"`
}

// Prove returns the inclusion proof of the file at path p.
func (m *Manifest) Prove(p string) (FileProof, bool) {
	leaves := leafHashes(m.Files)
	for i, f := range m.Files {
		if f.Path != p {
			continue
		}
		fp := FileProof{File: f, Index: int64(i), Size: int64(len(m.Files)), LeafHash: hex.EncodeToString(leaves[i]), Proof: []string{}}
		for _, h := range auditPath(i, leaves) {
			fp.Proof = append(fp.Proof, hex.EncodeToString(h))
		}
		return fp, true
	}
	return FileProof{}, false
}

// File returns the manifest's file at path p.
func (m *Manifest) File(p string) (File, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// canonical is the manifest as stored: without the record-keeping fields.
func (m *Manifest) canonical() ([]byte, error) {
	// The registration number is the product's, issued at listing, possibly after the
	// seal: it is shown beside the manifest, not part of it.
	c := Manifest{ProductID: m.ProductID, Revision: m.Revision, Bytes: m.Bytes, MerkleRoot: m.MerkleRoot}
	for _, f := range m.Files {
		c.Files = append(c.Files, File{Path: f.Path, Size: f.Size, SHA256: f.SHA256, MediaType: f.MediaType})
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b)
}

// Seal fixes a revision's files: the manifest is stored, its Merkle root filed, and
// no file of the revision changes after. The product's supplier or agent seals; every
// upload to the revision must have completed or been aborted.
func (s *Service) Seal(ctx context.Context, actor dataport.Actor, productID string, rev int64) (Manifest, error) {
	const op = "delivery.Seal"
	var m Manifest
	// Draft the manifest from a consistent read, store it, then seal it in a write
	// that checks nothing changed in between.
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		m, err = draft(tx, op, actor, productID, rev)
		return err
	})
	if err != nil {
		return Manifest{}, err
	}
	canon, err := m.canonical()
	if err != nil {
		return Manifest{}, dataport.Internal(op, err)
	}
	info, err := s.blobs.Put(ctx, bytes.NewReader(canon), int64(len(canon)), "")
	if err != nil {
		return Manifest{}, dataport.Wrap(op, err)
	}
	m.SHA256 = info.SHA256
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		again, err := draft(tx, op, actor, productID, rev)
		if err != nil {
			return err
		}
		if again.MerkleRoot != m.MerkleRoot {
			return dataport.Errorf(op, dataport.KindConflict, "the revision's files changed while it was being sealed: seal again")
		}
		f, err := ledger.File(tx, actor, ledger.Change{Type: "delivery.manifest_sealed", Subjects: []string{productID},
			Payload: map[string]any{"product_id": productID, "revision": rev, "registration_number": m.RegistrationNumber,
				"files": len(m.Files), "bytes": m.Bytes, "merkle_root": m.MerkleRoot, "manifest_sha256": m.SHA256}})
		if err != nil {
			return err
		}
		m.FilingSeq, m.SealedBy, m.SealedAt = f.Seq, actor.ParticipantID, tx.Now()
		_, err = tx.Exec(`INSERT INTO manifests (product_id, revision, merkle_root, files, bytes, filing_seq, sealed_by, sealed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, productID, rev, m.MerkleRoot, len(m.Files), m.Bytes, m.FilingSeq, m.SealedBy, store.FormatTime(m.SealedAt))
		if store.IsUniqueViolation(err) {
			return dataport.Errorf(op, dataport.KindConflict, "revision %d of %s is already sealed", rev, productID)
		}
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// draft builds the manifest of a revision about to be sealed.
func draft(tx *store.Tx, op string, actor dataport.Actor, productID string, rev int64) (Manifest, error) {
	p, err := mayAddFiles(tx, op, actor, productID, rev)
	if err != nil {
		return Manifest{}, err
	}
	var open int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM uploads WHERE product_id = $1 AND revision = $2 AND state = 'open'`, productID, rev).Scan(&open); err != nil {
		return Manifest{}, dataport.Internal(op, err)
	}
	if open > 0 {
		return Manifest{}, dataport.Errorf(op, dataport.KindConflict, "%d uploads to revision %d are still open: complete or abort them first", open, rev)
	}
	fs, err := files(tx, op, productID, rev)
	if err != nil {
		return Manifest{}, err
	}
	if len(fs) == 0 {
		return Manifest{}, dataport.Errorf(op, dataport.KindConflict, "revision %d of %s has no files to seal", rev, productID)
	}
	m := Manifest{ProductID: productID, Revision: rev, RegistrationNumber: p.RegistrationNumber, Files: fs}
	for _, f := range fs {
		m.Bytes += f.Size
	}
	m.MerkleRoot = hex.EncodeToString(treeHash(leafHashes(fs)))
	return m, nil
}

// Manifest returns the sealed manifest of revision rev: to the product's parties,
// the operator and regulators for any revision; to everyone else while the product
// is listed, since the paths, sizes and hashes are what a buyer checks before and
// after buying.
func (s *Service) Manifest(ctx context.Context, actor dataport.Actor, productID string, rev int64) (Manifest, error) {
	const op = "delivery.Manifest"
	if actor.Anonymous() {
		return Manifest{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var m Manifest
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		p, err := catalog.ProductAt(tx, productID, rev)
		if err != nil {
			return err
		}
		if !catalog.CanRead(actor, &p) {
			if _, err := catalog.ListedProduct(tx, productID); err != nil {
				return dataport.Errorf(op, dataport.KindNotFound, "no product %s", productID)
			}
		}
		m, err = sealed(tx, op, productID, rev, false)
		return err
	})
	return m, err
}

// sealed reads the sealed manifest of revision rev, or with orEarlier the latest
// sealed at or before it: a revision that changed only the product's details
// delivers the files sealed before it.
func sealed(tx *store.Tx, op, productID string, rev int64, orEarlier bool) (Manifest, error) {
	m := Manifest{ProductID: productID}
	q := `SELECT revision, merkle_root, bytes, filing_seq, sealed_by, sealed_at FROM manifests WHERE product_id = $1 AND revision = $2`
	if orEarlier {
		q = `SELECT revision, merkle_root, bytes, filing_seq, sealed_by, sealed_at FROM manifests WHERE product_id = $1 AND revision <= $2
			ORDER BY revision DESC LIMIT 1`
	}
	var at string
	err := tx.QueryRow(q, productID, rev).Scan(&m.Revision, &m.MerkleRoot, &m.Bytes, &m.FilingSeq, &m.SealedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Manifest{}, dataport.Errorf(op, dataport.KindNotFound, "revision %d of %s has no sealed files", rev, productID)
	}
	if err != nil {
		return Manifest{}, dataport.Internal(op, err)
	}
	m.SealedAt, _ = store.ParseTime(at)
	if m.Files, err = files(tx, op, productID, m.Revision); err != nil {
		return Manifest{}, err
	}
	p, err := catalog.ProductAt(tx, productID, m.Revision)
	if err != nil {
		return Manifest{}, err
	}
	m.RegistrationNumber = p.RegistrationNumber
	canon, err := m.canonical()
	if err != nil {
		return Manifest{}, dataport.Internal(op, err)
	}
	sum := sha256.Sum256(canon)
	m.SHA256 = hex.EncodeToString(sum[:])
	return m, nil
}
