package registry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// S3 access keys let a participant's tools (aws-sdk, rclone, s3cmd) sign requests to
// the exchange's S3-compatible endpoint with AWS Signature Version 4. SigV4 proves
// knowledge of the secret by an HMAC the server must recompute, so the server needs
// the secret itself, not a hash of it; instead of storing it, the exchange derives
// it: secret = HMAC-SHA256(root, key id), where root is a key derived from the
// exchange's own secret. Nothing secret is stored, and a key is revoked by its
// record.

// S3Key is an access key (its id) and whose it is.
type S3Key struct {
	ID            string    `json:"access_key_id"`
	ParticipantID string    `json:"participant_id"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	CreatedBy     string    `json:"created_by"`
	RevokedAt     time.Time `json:"revoked_at,omitzero"`
	RevokedBy     string    `json:"revoked_by,omitempty"`
}

// S3Keys issues, revokes and checks S3 access keys.
type S3Keys struct {
	s    *Service
	root []byte
}

// S3Keys returns the S3 key service; root (32 bytes or more) must be the same on
// every replica.
func (s *Service) S3Keys(root []byte) *S3Keys { return &S3Keys{s: s, root: root} }

// keyAlphabet is that of AWS access key ids: upper-case letters and digits.
const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func newAccessKeyID() string {
	b := make([]byte, 16)
	rand.Read(b)
	var sb strings.Builder
	sb.WriteString("DPAK")
	for _, c := range b {
		sb.WriteByte(keyAlphabet[c%32])
	}
	return sb.String()
}

func (k *S3Keys) secret(id string) string {
	m := hmac.New(sha256.New, k.root)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:40]
}

// Create issues a key for a participant: the operator for anyone, a participant for
// itself. The secret is returned once.
func (k *S3Keys) Create(ctx context.Context, actor dataport.Actor, participantID, name string) (S3Key, string, error) {
	const op = "registry.CreateS3Key"
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return S3Key{}, "", dataport.Invalid(op, dataport.FieldProblem{Field: "name", Message: "a name for the key, 1 to 100 characters"})
	}
	var key S3Key
	err := k.s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayChangeFor(tx, op, actor, participantID); err != nil {
			return err
		}
		if _, err := get(tx, op, participantID); err != nil {
			return err
		}
		key = S3Key{ID: newAccessKeyID(), ParticipantID: participantID, Name: name, CreatedAt: tx.Now(), CreatedBy: actor.ParticipantID}
		if _, err := tx.Exec(`INSERT INTO s3_keys (id, participant_id, name, created_by, created_at, revoked_at, revoked_by)
			VALUES ($1, $2, $3, $4, $5, '', '')`, key.ID, participantID, name, key.CreatedBy, store.FormatTime(key.CreatedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		_, err := ledger.File(tx, actor, ledger.Change{Type: "s3_key.created", Subjects: []string{participantID, key.ID}, Payload: key})
		return err
	})
	if err != nil {
		return S3Key{}, "", err
	}
	return key, k.secret(key.ID), nil
}

// List returns a participant's S3 keys.
func (k *S3Keys) List(ctx context.Context, actor dataport.Actor, participantID string) ([]S3Key, error) {
	const op = "registry.ListS3Keys"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator) && actor.ParticipantID != participantID {
		return nil, notFound(op, participantID)
	}
	out := []S3Key{}
	err := k.s.db.Read(ctx, func(tx *store.Tx) error {
		ids, err := tx.Strings(`SELECT id FROM s3_keys WHERE participant_id = $1 ORDER BY created_at, id`, participantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			key, err := s3Key(tx, op, id)
			if err != nil {
				return err
			}
			out = append(out, key)
		}
		return nil
	})
	return out, err
}

func s3Key(tx *store.Tx, op, id string) (S3Key, error) {
	var key S3Key
	var created, revoked string
	err := tx.QueryRow(`SELECT id, participant_id, name, created_by, created_at, revoked_at, revoked_by FROM s3_keys WHERE id = $1`, id).
		Scan(&key.ID, &key.ParticipantID, &key.Name, &key.CreatedBy, &created, &revoked, &key.RevokedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return S3Key{}, dataport.Errorf(op, dataport.KindNotFound, "no S3 access key %s", id)
	}
	if err != nil {
		return S3Key{}, dataport.Internal(op, err)
	}
	key.CreatedAt, _ = store.ParseTime(created)
	if revoked != "" {
		key.RevokedAt, _ = store.ParseTime(revoked)
	}
	return key, nil
}

// Revoke ends a key at once: the operator any, a participant its own.
func (k *S3Keys) Revoke(ctx context.Context, actor dataport.Actor, participantID, id string) (S3Key, error) {
	const op = "registry.RevokeS3Key"
	var key S3Key
	err := k.s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayChangeFor(tx, op, actor, participantID); err != nil {
			return err
		}
		var err error
		if key, err = s3Key(tx, op, id); err != nil {
			return err
		}
		if key.ParticipantID != participantID {
			return dataport.Errorf(op, dataport.KindNotFound, "no S3 access key %s", id)
		}
		if !key.RevokedAt.IsZero() {
			return dataport.Errorf(op, dataport.KindConflict, "S3 access key %s is already revoked", id)
		}
		key.RevokedAt, key.RevokedBy = tx.Now(), actor.ParticipantID
		if _, err := tx.Exec(`UPDATE s3_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1`, id, store.FormatTime(key.RevokedAt), key.RevokedBy); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "s3_key.revoked", Subjects: []string{participantID, id}, Payload: key})
		return err
	})
	return key, err
}

// Secret returns the secret of a key in force, for checking a signature; a revoked
// or unknown key is not found.
func (k *S3Keys) Secret(ctx context.Context, id string) (string, error) {
	const op = "registry.S3Secret"
	if !strings.HasPrefix(id, "DPAK") || len(id) != 20 {
		return "", dataport.Errorf(op, dataport.KindNotFound, "no S3 access key %s", id)
	}
	var key S3Key
	err := k.s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		key, err = s3Key(tx, op, id)
		return err
	})
	if err != nil {
		return "", err
	}
	if !key.RevokedAt.IsZero() {
		return "", dataport.Errorf(op, dataport.KindNotFound, "S3 access key %s is revoked", id)
	}
	return k.secret(id), nil
}

// Actor is who a signed S3 request acts for: the key's participant, as a buyer,
// while it is active (a suspension stops its keys at once: KindForbidden).
func (k *S3Keys) Actor(ctx context.Context, id string) (dataport.Actor, error) {
	const op = "registry.S3Actor"
	var a dataport.Actor
	err := k.s.db.Read(ctx, func(tx *store.Tx) error {
		key, err := s3Key(tx, op, id)
		if err != nil {
			return err
		}
		if !key.RevokedAt.IsZero() {
			return dataport.Errorf(op, dataport.KindUnauthorized, "S3 access key %s is revoked", id)
		}
		if err := CheckActive(tx, key.ParticipantID); err != nil {
			return err
		}
		p, err := get(tx, op, key.ParticipantID)
		if err != nil {
			return err
		}
		a = dataport.Actor{ParticipantID: p.ID, KeyID: id}
		if p.Has(dataport.RoleBuyer) {
			a.Roles = []dataport.Role{dataport.RoleBuyer}
		}
		return nil
	})
	return a, err
}
