package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// APIKey is a participant's credential for the API. Its secret is shown once, when
// it is created; the exchange keeps only the secret's SHA-256.
type APIKey struct {
	ID            string          `json:"id"`
	ParticipantID string          `json:"participant_id"`
	Name          string          `json:"name"`
	Roles         []dataport.Role `json:"roles" doc:"the roles the key acts in: a subset of the participant's"`
	CreatedAt     time.Time       `json:"created_at"`
	CreatedBy     string          `json:"created_by"`
	ExpiresAt     time.Time       `json:"expires_at,omitzero"`
	RevokedAt     time.Time       `json:"revoked_at,omitzero"`
	RevokedBy     string          `json:"revoked_by,omitempty"`
}

// NewAPIKey asks for a key.
type NewAPIKey struct {
	Name      string          `json:"name" minLength:"1" maxLength:"100"`
	Roles     []dataport.Role `json:"roles,omitempty" doc:"the key's roles; all of the participant's when empty" enum:"operator,supplier,agent,buyer,assessor,financial_institution,merchant,regulator"`
	ExpiresAt time.Time       `json:"expires_at,omitzero" doc:"when the key stops working; never when absent"`
}

// tokenPrefix starts every API key token, so a leaked one is recognisable (and
// secret scanners can be taught to find it).
const tokenPrefix = "dp."

// A token is "dp.<key id>.<secret>": the key id finds the record, the secret is
// compared with the stored hash in constant time.
func makeToken(keyID string) (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	return tokenPrefix + keyID + "." + secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey issues a key for a participant and returns it with its token, which is
// never shown again. The operator may issue keys for anyone; a participant for itself.
func (s *Service) CreateAPIKey(ctx context.Context, actor dataport.Actor, participantID string, n NewAPIKey) (APIKey, string, error) {
	const op = "registry.CreateAPIKey"
	var k APIKey
	var token string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayChangeFor(tx, op, actor, participantID); err != nil {
			return err
		}
		p, err := get(tx, op, participantID)
		if err != nil {
			return err
		}
		k, token, err = insertAPIKey(tx, op, actor, p, n)
		return err
	})
	return k, token, err
}

func insertAPIKey(tx *store.Tx, op string, actor dataport.Actor, p Participant, n NewAPIKey) (APIKey, string, error) {
	var problems dataport.Problems
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || len([]rune(n.Name)) > 100 {
		problems.Add("name", "a name for the key, 1 to 100 characters")
	}
	roles := sortRoles(n.Roles)
	if len(roles) == 0 {
		roles = p.Roles
	}
	for _, r := range roles {
		if !p.Has(r) {
			problems.Add("roles", "%s does not hold the role %q", p.ID, r)
		}
	}
	if !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(tx.Now()) {
		problems.Add("expires_at", "already past")
	}
	if err := problems.Err(op); err != nil {
		return APIKey{}, "", err
	}
	k := APIKey{ID: dataport.NewID("key"), ParticipantID: p.ID, Name: n.Name, Roles: roles,
		CreatedAt: tx.Now(), CreatedBy: actor.ParticipantID, ExpiresAt: n.ExpiresAt.UTC()}
	token, hash := makeToken(k.ID)
	if _, err := tx.Exec(`INSERT INTO api_keys (id, participant_id, name, secret_sha256, roles, created_at,
		created_by, expires_at, revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '')`,
		k.ID, k.ParticipantID, k.Name, hash, joinRoles(k.Roles), store.FormatTime(k.CreatedAt), k.CreatedBy,
		store.FormatTime(k.ExpiresAt)); err != nil {
		return APIKey{}, "", dataport.Internal(op, err)
	}
	// The filing names the key; neither the secret nor its hash is filed.
	_, err := ledger.File(tx, actor, ledger.Change{Type: "api_key.created", Subjects: []string{p.ID, k.ID}, Payload: k})
	return k, token, err
}

// ListAPIKeys returns a participant's keys, newest last, without secrets.
func (s *Service) ListAPIKeys(ctx context.Context, actor dataport.Actor, participantID string) ([]APIKey, error) {
	const op = "registry.ListAPIKeys"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator) && actor.ParticipantID != participantID {
		return nil, notFound(op, participantID)
	}
	var keys []APIKey
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := get(tx, op, participantID); err != nil {
			return err
		}
		rows, err := tx.Query(selectAPIKey+` WHERE participant_id = $1 ORDER BY id`, participantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			k, _, err := scanAPIKey(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			keys = append(keys, k)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return keys, err
}

// RevokeAPIKey ends a key at once. The operator may revoke any key; a participant its
// own.
func (s *Service) RevokeAPIKey(ctx context.Context, actor dataport.Actor, participantID, keyID string) (APIKey, error) {
	const op = "registry.RevokeAPIKey"
	var k APIKey
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayChangeFor(tx, op, actor, participantID); err != nil {
			return err
		}
		var err error
		k, _, err = scanAPIKey(tx.QueryRow(selectAPIKey+` WHERE id = $1 AND participant_id = $2`, keyID, participantID))
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no API key %s for participant %s", keyID, participantID)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !k.RevokedAt.IsZero() {
			return dataport.Errorf(op, dataport.KindConflict, "API key %s is already revoked", keyID)
		}
		k.RevokedAt, k.RevokedBy = tx.Now(), actor.ParticipantID
		if _, err := tx.Exec(`UPDATE api_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1`,
			k.ID, store.FormatTime(k.RevokedAt), k.RevokedBy); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "api_key.revoked", Subjects: []string{participantID, k.ID}, Payload: k})
		return err
	})
	return k, err
}

const selectAPIKey = `SELECT id, participant_id, name, roles, created_at, created_by, expires_at, revoked_at,
	revoked_by, secret_sha256 FROM api_keys`

func scanAPIKey(r scanner) (APIKey, string, error) {
	var k APIKey
	var roles, created, expires, revoked, hash string
	if err := r.Scan(&k.ID, &k.ParticipantID, &k.Name, &roles, &created, &k.CreatedBy, &expires, &revoked, &k.RevokedBy, &hash); err != nil {
		return APIKey{}, "", err
	}
	k.Roles = splitRoles(roles)
	var err error
	if k.CreatedAt, err = store.ParseTime(created); err != nil {
		return APIKey{}, "", err
	}
	if k.ExpiresAt, err = store.ParseTime(expires); err != nil {
		return APIKey{}, "", err
	}
	if k.RevokedAt, err = store.ParseTime(revoked); err != nil {
		return APIKey{}, "", err
	}
	return k, hash, nil
}

func joinRoles(roles []dataport.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func splitRoles(s string) []dataport.Role {
	var roles []dataport.Role
	for _, r := range strings.Split(s, ",") {
		if r != "" {
			roles = append(roles, dataport.Role(r))
		}
	}
	return roles
}

// Authenticate turns a bearer token into the Actor it stands for. The actor's roles
// are the key's roles that its participant still holds. A suspended participant
// authenticates (it may still read its own records); CheckActive stops its changes.
//
// Errors: KindUnauthorized for an unknown, malformed, revoked or expired key.
func (s *Service) Authenticate(ctx context.Context, token string) (dataport.Actor, error) {
	const op = "registry.Authenticate"
	bad := func(msg string) error { return dataport.Errorf(op, dataport.KindUnauthorized, "%s", msg) }
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return dataport.Actor{}, bad("malformed API key: it starts with dp.")
	}
	keyID, secret, ok := strings.Cut(rest, ".")
	if !ok || keyID == "" || secret == "" {
		return dataport.Actor{}, bad("malformed API key")
	}
	var actor dataport.Actor
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		k, hash, err := scanAPIKey(tx.QueryRow(selectAPIKey+` WHERE id = $1`, keyID))
		if errors.Is(err, sql.ErrNoRows) {
			hashSecret(secret) // spend the same time as for a known key
			return bad("invalid API key")
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) != 1 {
			return bad("invalid API key")
		}
		if !k.RevokedAt.IsZero() {
			return bad("API key revoked")
		}
		if !k.ExpiresAt.IsZero() && !tx.Now().Before(k.ExpiresAt) {
			return bad("API key expired")
		}
		held, err := readRoles(tx, k.ParticipantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		actor = dataport.Actor{ParticipantID: k.ParticipantID, KeyID: k.ID}
		for _, r := range k.Roles {
			if slices.Contains(held, r) {
				actor.Roles = append(actor.Roles, r)
			}
		}
		return nil
	})
	return actor, err
}

// SigningKey is an Ed25519 public key a participant signs with (contracts, receipts).
// Its id is "ed25519:" and the first 16 hex digits of the SHA-256 of the raw key, so
// anyone holding the key can recompute it.
type SigningKey struct {
	ID            string    `json:"id"`
	ParticipantID string    `json:"participant_id"`
	Name          string    `json:"name"`
	Algorithm     string    `json:"algorithm" enum:"ed25519"`
	PublicKey     string    `json:"public_key" doc:"the raw 32-byte Ed25519 public key, base64"`
	AddedAt       time.Time `json:"added_at"`
	AddedBy       string    `json:"added_by"`
	RevokedAt     time.Time `json:"revoked_at,omitzero"`
	RevokedBy     string    `json:"revoked_by,omitempty"`
}

// NewSigningKey registers a public key.
type NewSigningKey struct {
	Name      string `json:"name" minLength:"1" maxLength:"100"`
	PublicKey string `json:"public_key" doc:"the raw 32-byte Ed25519 public key, base64 (standard or URL alphabet)"`
}

// SigningKeyID returns the id of an Ed25519 public key.
func SigningKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// AddSigningKey registers a participant's public key. The operator may add keys for
// anyone; a participant for itself.
func (s *Service) AddSigningKey(ctx context.Context, actor dataport.Actor, participantID string, n NewSigningKey) (SigningKey, error) {
	const op = "registry.AddSigningKey"
	var k SigningKey
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayChangeFor(tx, op, actor, participantID); err != nil {
			return err
		}
		if _, err := get(tx, op, participantID); err != nil {
			return err
		}
		var problems dataport.Problems
		n.Name = strings.TrimSpace(n.Name)
		if n.Name == "" || len([]rune(n.Name)) > 100 {
			problems.Add("name", "a name for the key, 1 to 100 characters")
		}
		raw, err := decodeKey(n.PublicKey)
		if err != nil {
			problems.Add("public_key", "base64 of a raw Ed25519 public key")
		} else if len(raw) != ed25519.PublicKeySize {
			problems.Add("public_key", "an Ed25519 public key has %d bytes, this one %d", ed25519.PublicKeySize, len(raw))
		}
		if err := problems.Err(op); err != nil {
			return err
		}
		pub := ed25519.PublicKey(raw)
		k = SigningKey{ID: SigningKeyID(pub), ParticipantID: participantID, Name: n.Name, Algorithm: "ed25519",
			PublicKey: base64.StdEncoding.EncodeToString(pub), AddedAt: tx.Now(), AddedBy: actor.ParticipantID}
		if _, err := tx.Exec(`INSERT INTO signing_keys (id, participant_id, name, algorithm, public_key, added_at,
			added_by, revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7, '', '')`,
			k.ID, k.ParticipantID, k.Name, k.Algorithm, k.PublicKey, store.FormatTime(k.AddedAt), k.AddedBy); err != nil {
			if store.IsUniqueViolation(err) {
				return &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: "this public key is already registered",
					Fields: []dataport.FieldProblem{{Field: "public_key", Message: "already registered"}}}
			}
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "signing_key.added", Subjects: []string{participantID, k.ID}, Payload: k})
		return err
	})
	return k, err
}

// ListSigningKeys returns a participant's public keys, revoked ones included (a
// signature made before a revocation still verifies). Public keys are not secret:
// any authenticated participant may read them to check a counterparty's signature.
func (s *Service) ListSigningKeys(ctx context.Context, actor dataport.Actor, participantID string) ([]SigningKey, error) {
	const op = "registry.ListSigningKeys"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var keys []SigningKey
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM participants WHERE id = $1`, participantID).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n == 0 {
			return notFound(op, participantID)
		}
		rows, err := tx.Query(selectSigningKey+` WHERE participant_id = $1 ORDER BY added_at, id`, participantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanSigningKey(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			keys = append(keys, k)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return keys, err
}

// RevokeSigningKey marks a public key revoked: signatures made with it from now on are
// not accepted.
func (s *Service) RevokeSigningKey(ctx context.Context, actor dataport.Actor, participantID, keyID string) (SigningKey, error) {
	const op = "registry.RevokeSigningKey"
	var k SigningKey
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayChangeFor(tx, op, actor, participantID); err != nil {
			return err
		}
		var err error
		k, err = scanSigningKey(tx.QueryRow(selectSigningKey+` WHERE id = $1 AND participant_id = $2`, keyID, participantID))
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "no signing key %s for participant %s", keyID, participantID)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !k.RevokedAt.IsZero() {
			return dataport.Errorf(op, dataport.KindConflict, "signing key %s is already revoked", keyID)
		}
		k.RevokedAt, k.RevokedBy = tx.Now(), actor.ParticipantID
		if _, err := tx.Exec(`UPDATE signing_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1`,
			k.ID, store.FormatTime(k.RevokedAt), k.RevokedBy); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "signing_key.revoked", Subjects: []string{participantID, k.ID}, Payload: k})
		return err
	})
	return k, err
}

const selectSigningKey = `SELECT id, participant_id, name, algorithm, public_key, added_at, added_by, revoked_at, revoked_by FROM signing_keys`

func scanSigningKey(r scanner) (SigningKey, error) {
	var k SigningKey
	var added, revoked string
	if err := r.Scan(&k.ID, &k.ParticipantID, &k.Name, &k.Algorithm, &k.PublicKey, &added, &k.AddedBy, &revoked, &k.RevokedBy); err != nil {
		return SigningKey{}, err
	}
	var err error
	if k.AddedAt, err = store.ParseTime(added); err != nil {
		return SigningKey{}, err
	}
	if k.RevokedAt, err = store.ParseTime(revoked); err != nil {
		return SigningKey{}, err
	}
	return k, nil
}

// OperatorIdentity names the exchange operator created at first start.
type OperatorIdentity struct {
	LegalName dataport.Bilingual
	USCC      string // may be completed later
	Contact   Contact
}

// Bootstrap creates the exchange operator and its first API key when the registry has
// no operator yet, and returns the key's token (shown once). On a registry that has
// one it changes nothing and returns created = false.
func (s *Service) Bootstrap(ctx context.Context, id OperatorIdentity) (p Participant, token string, created bool, err error) {
	const op = "registry.Bootstrap"
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM participant_roles WHERE role = 'operator'`).Scan(&n); err != nil {
			return dataport.Internal(op, err)
		}
		if n > 0 {
			// Nothing to change, nothing to file: leave by an error the caller drops.
			return errAlreadyBootstrapped
		}
		var err error
		p, err = insertParticipant(tx, op, dataport.System, NewParticipant{
			LegalName: id.LegalName, Jurisdiction: "CN", Kind: Domestic, USCC: id.USCC,
			Roles: []dataport.Role{dataport.RoleOperator}, Contact: id.Contact,
		})
		if err != nil {
			return err
		}
		_, token, err = insertAPIKey(tx, op, dataport.System, p, NewAPIKey{Name: "first operator key"})
		created = true
		return err
	})
	if errors.Is(err, errAlreadyBootstrapped) {
		return Participant{}, "", false, nil
	}
	return p, token, created, err
}

var errAlreadyBootstrapped = errors.New("operator exists")

// IssueKey issues a key for a participant as the exchange itself, for the command
// line's `admin create-key` and the demo; there is no actor to check.
func (s *Service) IssueKey(ctx context.Context, participantID string, n NewAPIKey) (APIKey, string, error) {
	const op = "registry.IssueKey"
	var k APIKey
	var token string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		p, err := get(tx, op, participantID)
		if err != nil {
			return err
		}
		k, token, err = insertAPIKey(tx, op, dataport.System, p, n)
		return err
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, token, nil
}

// Operator returns the exchange operator's participant id.
func (s *Service) Operator(ctx context.Context) (string, error) {
	var id string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(`SELECT participant_id FROM participant_roles WHERE role = 'operator' ORDER BY participant_id LIMIT 1`).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf("registry.Operator", dataport.KindNotFound, "the exchange has no operator yet")
		}
		return dataport.Wrap("registry.Operator", err)
	})
	return id, err
}

// VerifySignature checks that sig is participantID's Ed25519 signature over msg,
// made with its registered key keyID, which is not revoked. The error says which of
// these does not hold (KindInvalid).
func VerifySignature(tx *store.Tx, participantID, keyID string, msg, sig []byte) error {
	const op = "registry.VerifySignature"
	k, err := scanSigningKey(tx.QueryRow(selectSigningKey+` WHERE id = $1`, keyID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return dataport.Invalid(op, dataport.FieldProblem{Field: "key_id", Message: "no registered signing key " + keyID})
	case err != nil:
		return dataport.Internal(op, err)
	case k.ParticipantID != participantID:
		return dataport.Invalid(op, dataport.FieldProblem{Field: "key_id", Message: "the key is not the signer's"})
	case !k.RevokedAt.IsZero():
		return dataport.Invalid(op, dataport.FieldProblem{Field: "key_id", Message: "the key was revoked on " + k.RevokedAt.Format(time.DateOnly)})
	}
	pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return dataport.Internal(op, errors.New("stored key "+keyID+" is not an Ed25519 key"))
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(pub), msg, sig) {
		return dataport.Invalid(op, dataport.FieldProblem{Field: "signature", Message: "the signature does not verify over the document with that key"})
	}
	return nil
}
