package mirror

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/s3api"
	"github.com/dataport/dataport/store"
)

// The mirror's upstreams are registered by the operator and filed; the cache serves
// them. An upstream's credentials, when it has any, are sealed at rest with AES-GCM
// under a key derived from the exchange's secret (the mirror must present them
// upstream, so they cannot be hashed), and never shown or filed.

// NewUpstream registers an upstream: an S3 endpoint and bucket, or an AWS Open Data
// Registry ARN and region.
type NewUpstream struct {
	Name      string `json:"name" maxLength:"63" doc:"the bucket name the mirror shows: 3 to 63 lower-case letters, digits, hyphens and dots"`
	ARN       string `json:"arn,omitempty" maxLength:"300" doc:"an AWS Open Data Registry resource ARN, e.g. arn:aws:s3:::noaa-ghcn-pds; with region, instead of endpoint and bucket"`
	Endpoint  string `json:"endpoint,omitempty" maxLength:"300" doc:"host[:port] of an S3-compatible server"`
	Secure    bool   `json:"secure,omitempty" doc:"https to the endpoint"`
	Bucket    string `json:"bucket,omitempty" maxLength:"63"`
	Region    string `json:"region,omitempty" maxLength:"63"`
	Prefix    string `json:"prefix,omitempty" maxLength:"1024" doc:"serve only keys under this prefix"`
	AccessKey string `json:"access_key,omitempty" maxLength:"200" doc:"empty for anonymous access (open data)"`
	SecretKey string `json:"secret_key,omitempty" maxLength:"200"`
}

// UpstreamInfo is a registered upstream as the operator sees it.
type UpstreamInfo struct {
	Name      string    `json:"name"`
	Endpoint  string    `json:"endpoint"`
	Secure    bool      `json:"secure"`
	Bucket    string    `json:"bucket"`
	Region    string    `json:"region,omitempty"`
	Prefix    string    `json:"prefix,omitempty"`
	ARN       string    `json:"arn,omitempty"`
	Anonymous bool      `json:"anonymous"`
	Status    string    `json:"status" enum:"active,removed"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Service is the mirror: its upstreams, its cache, and its buckets on the S3
// endpoint.
type Service struct {
	db    *store.DB
	cache *Cache
	aead  cipher.AEAD

	mu     sync.Mutex
	known  map[string]Upstream // active upstreams by name, read from the database
	loaded time.Time
}

// refresh is how long the upstreams read from the database are reused: a removal
// on another replica takes effect within it.
const refresh = 15 * time.Second

// New makes the mirror over cache; sealKey (32 bytes) seals upstream credentials.
func New(db *store.DB, cache *Cache, sealKey []byte) (*Service, error) {
	block, err := aes.NewCipher(sealKey[:32])
	if err != nil {
		return nil, dataport.Internal("mirror.New", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, dataport.Internal("mirror.New", err)
	}
	return &Service{db: db, cache: cache, aead: aead}, nil
}

// Cache is the mirror's cache.
func (s *Service) Cache() *Cache { return s.cache }

type sealedCreds struct {
	AccessKey string `json:"a"`
	SecretKey string `json:"s"`
}

func (s *Service) seal(name string, c sealedCreds) string {
	if c.AccessKey == "" && c.SecretKey == "" {
		return ""
	}
	plain, _ := json.Marshal(c)
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	// The upstream's name is the associated data: a sealed value moved to another
	// upstream's row does not open.
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name)))
}

func (s *Service) open(name, sealed string) (sealedCreds, error) {
	var c sealedCreds
	if sealed == "" {
		return c, nil
	}
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return c, errors.New("sealed credentials are malformed")
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return c, errors.New("sealed credentials do not open: was the exchange's secret changed?")
	}
	return c, json.Unmarshal(plain, &c)
}

// Register adds an upstream (the operator). Its name must not be taken, nor look
// like a deal's bucket.
func (s *Service) Register(ctx context.Context, actor dataport.Actor, n NewUpstream) (UpstreamInfo, error) {
	const op = "mirror.Register"
	var up Upstream
	var err error
	if n.ARN != "" {
		if n.Endpoint != "" || n.Bucket != "" {
			return UpstreamInfo{}, dataport.Invalid(op, dataport.FieldProblem{Field: "arn", Message: "give an ARN and region, or an endpoint and bucket, not both"})
		}
		up, err = FromARN(n.Name, n.ARN, n.Region)
		if err != nil {
			return UpstreamInfo{}, err
		}
		up.AccessKey, up.SecretKey = n.AccessKey, n.SecretKey
	} else {
		up = Upstream{Name: n.Name, Endpoint: n.Endpoint, Secure: n.Secure, Bucket: n.Bucket, Region: n.Region, Prefix: n.Prefix,
			AccessKey: n.AccessKey, SecretKey: n.SecretKey}
	}
	if err := up.Validate(); err != nil {
		return UpstreamInfo{}, err
	}
	if strings.HasPrefix(up.Name, "deal-") {
		return UpstreamInfo{}, dataport.Invalid(op, dataport.FieldProblem{Field: "name", Message: "names starting deal- are the buckets of deals"})
	}
	info := UpstreamInfo{Name: up.Name, Endpoint: up.Endpoint, Secure: up.Secure, Bucket: up.Bucket, Region: up.Region, Prefix: up.Prefix,
		ARN: n.ARN, Anonymous: up.AccessKey == "", Status: "active", CreatedBy: actor.ParticipantID}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := operator(tx, op, actor); err != nil {
			return err
		}
		info.CreatedAt = tx.Now()
		now := store.FormatTime(info.CreatedAt)
		// A removed upstream's name may be used again.
		if _, err := tx.Exec(`DELETE FROM mirror_upstreams WHERE name = $1 AND status = 'removed'`, up.Name); err != nil {
			return dataport.Internal(op, err)
		}
		_, err := tx.Exec(`INSERT INTO mirror_upstreams (name, endpoint, secure, bucket, region, prefix, arn, credentials, status, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $10)`, up.Name, up.Endpoint, up.Secure, up.Bucket, up.Region, up.Prefix, n.ARN,
			s.seal(up.Name, sealedCreds{up.AccessKey, up.SecretKey}), actor.ParticipantID, now)
		if store.IsUniqueViolation(err) {
			return dataport.Errorf(op, dataport.KindConflict, "an upstream named %s is registered", up.Name)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "mirror.upstream_registered", Subjects: []string{up.Name}, Payload: info})
		return err
	})
	if err != nil {
		return UpstreamInfo{}, err
	}
	s.invalidate()
	return info, nil
}

// Remove stops serving an upstream and drops its cached objects (the operator).
func (s *Service) Remove(ctx context.Context, actor dataport.Actor, name string) (UpstreamInfo, error) {
	const op = "mirror.Remove"
	var info UpstreamInfo
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := operator(tx, op, actor); err != nil {
			return err
		}
		var err error
		if info, _, err = s.read(tx, op, name); err != nil {
			return err
		}
		if info.Status != "active" {
			return dataport.Errorf(op, dataport.KindNotFound, "no upstream %s", name)
		}
		if _, err := tx.Exec(`UPDATE mirror_upstreams SET status = 'removed', updated_at = $2 WHERE name = $1`, name, store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal(op, err)
		}
		info.Status = "removed"
		_, err = ledger.File(tx, actor, ledger.Change{Type: "mirror.upstream_removed", Subjects: []string{name}, Payload: map[string]any{"name": name}})
		return err
	})
	if err != nil {
		return UpstreamInfo{}, err
	}
	s.invalidate()
	return info, dataport.Wrap(op, s.cache.Forget(name))
}

// Upstreams lists the active upstreams: the operator sees their settings (never the
// credentials); the buckets themselves are public through the S3 endpoint.
func (s *Service) Upstreams(ctx context.Context, actor dataport.Actor) ([]UpstreamInfo, error) {
	const op = "mirror.Upstreams"
	out := []UpstreamInfo{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
			return dataport.Errorf(op, dataport.KindForbidden, "the operator manages the mirror")
		}
		names, err := tx.Strings(`SELECT name FROM mirror_upstreams WHERE status = 'active' ORDER BY name`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, n := range names {
			info, _, err := s.read(tx, op, n)
			if err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

func operator(tx *store.Tx, op string, actor dataport.Actor) error {
	if err := registry.MayAct(tx, op, actor); err != nil {
		return err
	}
	if !actor.Has(dataport.RoleOperator) {
		return dataport.Errorf(op, dataport.KindForbidden, "the operator manages the mirror")
	}
	return nil
}

func (s *Service) read(tx *store.Tx, op, name string) (UpstreamInfo, Upstream, error) {
	var info UpstreamInfo
	var sealed, created string
	err := tx.QueryRow(`SELECT name, endpoint, secure, bucket, region, prefix, arn, credentials, status, created_by, created_at
		FROM mirror_upstreams WHERE name = $1`, name).Scan(&info.Name, &info.Endpoint, &info.Secure, &info.Bucket, &info.Region, &info.Prefix,
		&info.ARN, &sealed, &info.Status, &info.CreatedBy, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return UpstreamInfo{}, Upstream{}, dataport.Errorf(op, dataport.KindNotFound, "no upstream %s", name)
	}
	if err != nil {
		return UpstreamInfo{}, Upstream{}, dataport.Internal(op, err)
	}
	info.CreatedAt, _ = store.ParseTime(created)
	info.Anonymous = sealed == ""
	creds, err := s.open(name, sealed)
	if err != nil {
		return UpstreamInfo{}, Upstream{}, dataport.Internal(op, err)
	}
	return info, Upstream{Name: info.Name, Endpoint: info.Endpoint, Secure: info.Secure, Bucket: info.Bucket, Region: info.Region,
		Prefix: info.Prefix, AccessKey: creds.AccessKey, SecretKey: creds.SecretKey}, nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.known = nil
	s.mu.Unlock()
}

// active returns the active upstreams, from memory when read recently.
func (s *Service) active(ctx context.Context) (map[string]Upstream, error) {
	const op = "mirror.active"
	s.mu.Lock()
	if s.known != nil && time.Since(s.loaded) < refresh {
		k := s.known
		s.mu.Unlock()
		return k, nil
	}
	s.mu.Unlock()
	known := map[string]Upstream{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		names, err := tx.Strings(`SELECT name FROM mirror_upstreams WHERE status = 'active'`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, n := range names {
			_, up, err := s.read(tx, op, n)
			if err != nil {
				return err
			}
			known[n] = up
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.known, s.loaded = known, time.Now()
	s.mu.Unlock()
	return known, nil
}

// Upstream returns an active upstream by name.
func (s *Service) Upstream(ctx context.Context, name string) (Upstream, error) {
	known, err := s.active(ctx)
	if err != nil {
		return Upstream{}, err
	}
	up, ok := known[name]
	if !ok {
		return Upstream{}, s3api.ErrNoSuchBucket(name)
	}
	return up, nil
}

// Sync prefetches an upstream's objects under prefix into the cache (the operator).
func (s *Service) Sync(ctx context.Context, actor dataport.Actor, name, prefix string, opts SyncOptions) (SyncReport, error) {
	const op = "mirror.Sync"
	if err := s.db.Read(ctx, func(tx *store.Tx) error {
		if !actor.Has(dataport.RoleOperator) {
			return dataport.Errorf(op, dataport.KindForbidden, "the operator manages the mirror")
		}
		return registry.CheckActive(tx, actor.ParticipantID)
	}); err != nil {
		return SyncReport{}, err
	}
	up, err := s.Upstream(ctx, name)
	if err != nil {
		return SyncReport{}, dataport.Errorf(op, dataport.KindNotFound, "no upstream %s", name)
	}
	return s.cache.Sync(ctx, up, prefix, opts)
}

// The mirror's buckets on the S3 endpoint: open data, read anonymously or signed.

// Buckets implements s3api.Backend.
func (s *Service) Buckets(ctx context.Context, _ s3api.Caller) ([]s3api.Bucket, error) {
	known, err := s.active(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]s3api.Bucket, 0, len(known))
	for name := range known {
		out = append(out, s3api.Bucket{Name: name})
	}
	return out, nil
}

// Region implements s3api.Backend: the mirror answers in its own region.
func (s *Service) Region(ctx context.Context, _ s3api.Caller, bucket string) (string, error) {
	if _, err := s.Upstream(ctx, bucket); err != nil {
		return "", err
	}
	return "", nil
}

// List implements s3api.Backend.
func (s *Service) List(ctx context.Context, _ s3api.Caller, bucket string, q s3api.ListQuery) (s3api.ListPage, error) {
	up, err := s.Upstream(ctx, bucket)
	if err != nil {
		return s3api.ListPage{}, err
	}
	return s.cache.List(ctx, up, q)
}

// Head implements s3api.Backend.
func (s *Service) Head(ctx context.Context, _ s3api.Caller, bucket, key string) (s3api.ObjectInfo, error) {
	up, err := s.Upstream(ctx, bucket)
	if err != nil {
		return s3api.ObjectInfo{}, err
	}
	return s.cache.Head(ctx, up, key)
}

// Get implements s3api.Backend.
func (s *Service) Get(ctx context.Context, _ s3api.Caller, bucket, key string, offset, length int64) (io.ReadCloser, error) {
	up, err := s.Upstream(ctx, bucket)
	if err != nil {
		return nil, err
	}
	return s.cache.Get(ctx, up, key, offset, length)
}

var _ s3api.Backend = (*Service)(nil)
