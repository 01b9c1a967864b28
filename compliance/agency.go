package compliance

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Agency contracts (R22). Foreign data enters through a domestic agent: the foreign
// supplier and the agent agree a contract — which products (by category or id) and
// for how long — and both sign its RFC 8785 canonical JSON with their registered
// Ed25519 keys. The exchange checks the agent is whitelisted, KYC-verified and active,
// then certifies the contract with its own signature (a signed note checkable with
// the log's verifier key) and files the certificate. Revocation and expiry end it.
// Anyone holding the contract, the two public keys and the exchange's verifier key
// can check all three signatures offline.

// Signer is the exchange's signing key (the log's).
type Signer interface {
	SignStatement(kind string, canonical []byte) ([]byte, error)
	VerifierKey() string
}

// Document kinds: the first line of the exchange's signed note, and the type field
// of the signed contract.
const (
	ContractType         = "dataport agency contract v1"
	ContractCertificateK = "dataport agency contract certificate v1"
)

// NewAgencyContract is what the parties propose.
type NewAgencyContract struct {
	SupplierID string   `json:"supplier_id" doc:"the foreign supplier"`
	AgentID    string   `json:"agent_id" doc:"the domestic agent"`
	Categories []string `json:"categories,omitempty" maxItems:"50" doc:"product categories covered"`
	ProductIDs []string `json:"product_ids,omitempty" maxItems:"500" doc:"products covered"`
	ValidFrom  string   `json:"valid_from" format:"date"`
	ValidUntil string   `json:"valid_until" format:"date" doc:"the last day in force"`
	Terms      string   `json:"terms,omitempty" maxLength:"20000" doc:"the agreement's text"`
}

// ContractDocument is what both parties sign, as canonical JSON.
type ContractDocument struct {
	Type       string        `json:"type"`
	ID         string        `json:"id"`
	Supplier   ContractParty `json:"supplier"`
	Agent      ContractParty `json:"agent"`
	Categories []string      `json:"categories"`
	ProductIDs []string      `json:"product_ids"`
	ValidFrom  string        `json:"valid_from"`
	ValidUntil string        `json:"valid_until"`
	Terms      string        `json:"terms"`
	ProposedBy string        `json:"proposed_by"`
	ProposedAt string        `json:"proposed_at"`
}

// ContractParty names a party as registered.
type ContractParty struct {
	ID           string             `json:"id"`
	LegalName    dataport.Bilingual `json:"legal_name"`
	Jurisdiction string             `json:"jurisdiction"`
	Registration string             `json:"registration" doc:"USCC or foreign registration number"`
}

// ContractSignature is one party's signature.
type ContractSignature struct {
	KeyID     string `json:"key_id"`
	Signature string `json:"signature" doc:"base64 Ed25519 signature over the canonical document"`
}

// AgencyContract is a contract with its signatures and certificate.
type AgencyContract struct {
	ID                string             `json:"id"`
	SupplierID        string             `json:"supplier_id"`
	AgentID           string             `json:"agent_id"`
	Status            string             `json:"status" enum:"proposed,signed,certified,revoked"`
	StatusReason      string             `json:"status_reason,omitempty"`
	InForce           bool               `json:"in_force" doc:"certified, not revoked, and today within its term"`
	Document          string             `json:"document" doc:"the canonical JSON both parties sign"`
	DocumentSHA256    string             `json:"document_sha256"`
	SupplierSignature *ContractSignature `json:"supplier_signature,omitempty"`
	AgentSignature    *ContractSignature `json:"agent_signature,omitempty"`
	Certificate       string             `json:"certificate,omitempty" doc:"the exchange's signed note certifying the contract"`
	VerifierKey       string             `json:"verifier_key,omitempty" doc:"the exchange's key to check the certificate with"`
	CertifiedAt       time.Time          `json:"certified_at,omitzero"`
	CreatedAt         time.Time          `json:"created_at"`
	doc               ContractDocument
	extra             map[string]any // filed with the change
}

// ProposeContract drafts a contract between a foreign supplier and a domestic agent.
// Either party (or the operator) proposes.
func (s *Service) ProposeContract(ctx context.Context, actor dataport.Actor, n NewAgencyContract) (AgencyContract, error) {
	const op = "compliance.ProposeContract"
	if actor.Anonymous() {
		return AgencyContract{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var p dataport.Problems
	from, errFrom := time.Parse(time.DateOnly, n.ValidFrom)
	until, errUntil := time.Parse(time.DateOnly, n.ValidUntil)
	if errFrom != nil {
		p.Add("valid_from", "a date, YYYY-MM-DD")
	}
	if errUntil != nil {
		p.Add("valid_until", "a date, YYYY-MM-DD")
	}
	if errFrom == nil && errUntil == nil && until.Before(from) {
		p.Add("valid_until", "ends before it starts")
	}
	if len(n.Categories) == 0 && len(n.ProductIDs) == 0 {
		p.Add("categories", "say what the contract covers: categories, products or both")
	}
	for i, c := range n.Categories {
		if c == "" || len(c) > 64 {
			p.Add(fmt.Sprintf("categories[%d]", i), "a category name")
		}
	}
	if utf8.RuneCountInString(n.Terms) > 20000 {
		p.Add("terms", "at most 20000 characters")
	}
	if actor.ParticipantID != n.SupplierID && actor.ParticipantID != n.AgentID && !actor.Has(dataport.RoleOperator) {
		return AgencyContract{}, dataport.Errorf(op, dataport.KindForbidden, "a contract is proposed by one of its parties")
	}
	if err := p.Err(op); err != nil {
		return AgencyContract{}, err
	}
	var c AgencyContract
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		supplier, err := s.reg.Participant(tx, n.SupplierID)
		if err != nil || supplier.Kind != registry.Foreign || !supplier.Has(dataport.RoleSupplier) {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "supplier_id", Message: "a foreign supplier registered with the exchange"})
		}
		agent, err := s.reg.Participant(tx, n.AgentID)
		if err != nil || agent.Kind != registry.Domestic || !agent.Has(dataport.RoleAgent) {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "agent_id", Message: "a domestic agent registered with the exchange"})
		}
		for i, pid := range n.ProductIDs {
			var sup string
			err := tx.QueryRow(`SELECT supplier_id FROM products WHERE id = $1`, pid).Scan(&sup)
			if err != nil || sup != supplier.ID {
				return dataport.Invalid(op, dataport.FieldProblem{Field: fmt.Sprintf("product_ids[%d]", i), Message: "not a product of the supplier"})
			}
		}
		now := tx.Now()
		id := dataport.NewID("agc")
		doc := ContractDocument{Type: ContractType, ID: id, Supplier: party(supplier), Agent: party(agent),
			Categories: sorted(n.Categories), ProductIDs: sorted(n.ProductIDs), ValidFrom: n.ValidFrom, ValidUntil: n.ValidUntil,
			Terms: n.Terms, ProposedBy: actor.ParticipantID, ProposedAt: store.FormatTime(now)}
		canon, sum, err := canonical(doc)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if _, err := tx.Exec(`INSERT INTO agency_contracts (id, supplier_id, agent_id, document, document_sha256, valid_from, valid_until,
			supplier_key_id, supplier_signature, agent_key_id, agent_signature, certificate, status, status_reason, created_by, created_at,
			certified_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', '', '', '', 'proposed', '', $8, $9, '', $9)`,
			id, supplier.ID, agent.ID, canon, sum, n.ValidFrom, n.ValidUntil, actor.ParticipantID, store.FormatTime(now)); err != nil {
			return dataport.Internal(op, err)
		}
		c = AgencyContract{ID: id, SupplierID: supplier.ID, AgentID: agent.ID, Status: "proposed", Document: canon, DocumentSHA256: sum, CreatedAt: now, doc: doc}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "compliance.contract_proposed", Subjects: []string{id, supplier.ID, agent.ID},
			Payload: map[string]any{"contract_id": id, "document_sha256": sum, "valid_from": n.ValidFrom, "valid_until": n.ValidUntil}})
		return err
	})
	return c, err
}

func party(p registry.Participant) ContractParty {
	reg := p.USCC
	if reg == "" {
		reg = p.RegistrationNumber
	}
	return ContractParty{ID: p.ID, LegalName: p.LegalName, Jurisdiction: p.Jurisdiction, Registration: reg}
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func canonical(v any) (string, string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", "", err
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return "", "", err
	}
	return string(canon), sha256Hex(canon), nil
}

// SignContract records the caller's signature: the caller must be the supplier or
// the agent, the key registered to it and not revoked, and the signature must verify
// over the canonical document. Anything else is refused with the reason.
func (s *Service) SignContract(ctx context.Context, actor dataport.Actor, id string, sig ContractSignature) (AgencyContract, error) {
	const op = "compliance.SignContract"
	return s.changeContract(ctx, op, actor, id, func(tx *store.Tx, c *AgencyContract) (string, error) {
		if c.Status != "proposed" {
			return "", dataport.Errorf(op, dataport.KindConflict, "contract %s is %s: it is signed only while proposed", c.ID, c.Status)
		}
		var slot **ContractSignature
		switch actor.ParticipantID {
		case c.SupplierID:
			slot = &c.SupplierSignature
		case c.AgentID:
			slot = &c.AgentSignature
		default:
			return "", dataport.Errorf(op, dataport.KindForbidden, "only the contract's supplier and agent sign it")
		}
		if *slot != nil {
			return "", dataport.Errorf(op, dataport.KindConflict, "contract %s is signed by %s already", c.ID, actor.ParticipantID)
		}
		raw, err := base64.StdEncoding.DecodeString(sig.Signature)
		if err != nil {
			return "", dataport.Invalid(op, dataport.FieldProblem{Field: "signature", Message: "base64 of a 64-byte Ed25519 signature"})
		}
		if err := registry.VerifySignature(tx, actor.ParticipantID, sig.KeyID, []byte(c.Document), raw); err != nil {
			return "", dataport.Wrap(op, err)
		}
		*slot = &ContractSignature{KeyID: sig.KeyID, Signature: base64.StdEncoding.EncodeToString(raw)}
		if c.SupplierSignature != nil && c.AgentSignature != nil {
			c.Status = "signed"
		}
		return "compliance.contract_signed", nil
	})
}

// CertifyContract checks the signed contract's agent (whitelisted, KYC-verified,
// active) and supplier (active), re-verifies both signatures, and countersigns: the
// certificate is the exchange's signed note over the contract's hash and the two
// signatures. Operator only. Nothing half-certified exists: any failure leaves the
// contract as it was.
func (s *Service) CertifyContract(ctx context.Context, actor dataport.Actor, id string) (AgencyContract, error) {
	const op = "compliance.CertifyContract"
	if err := operatorOnly(op, actor); err != nil {
		return AgencyContract{}, err
	}
	if s.signer == nil {
		return AgencyContract{}, dataport.Errorf(op, dataport.KindUnavailable, "the exchange's signing key is not configured")
	}
	return s.changeContract(ctx, op, actor, id, func(tx *store.Tx, c *AgencyContract) (string, error) {
		if c.Status != "signed" {
			return "", dataport.Errorf(op, dataport.KindConflict, "contract %s is %s: both parties sign before it is certified", c.ID, c.Status)
		}
		now := tx.Now()
		agent, err := s.reg.Participant(tx, c.AgentID)
		if err != nil {
			return "", err
		}
		switch {
		case !agent.Whitelisted(now):
			return "", dataport.Errorf(op, dataport.KindForbidden, "R22: the agent is not on the cross-border whitelist")
		case agent.KYC.Status != registry.KYCVerified:
			return "", dataport.Errorf(op, dataport.KindForbidden, "R22: the agent's KYC is not verified")
		}
		for _, pid := range []string{c.AgentID, c.SupplierID} {
			if err := registry.CheckActive(tx, pid); err != nil {
				return "", dataport.Wrap(op, err)
			}
		}
		// The keys may have been revoked since they signed.
		for _, sg := range []struct {
			who string
			sig *ContractSignature
		}{{c.SupplierID, c.SupplierSignature}, {c.AgentID, c.AgentSignature}} {
			raw, _ := base64.StdEncoding.DecodeString(sg.sig.Signature)
			if err := registry.VerifySignature(tx, sg.who, sg.sig.KeyID, []byte(c.Document), raw); err != nil {
				return "", dataport.Errorf(op, dataport.KindConflict, "the signature of %s no longer holds: %s", sg.who, dataport.MessageOf(err))
			}
		}
		cert := map[string]any{"type": ContractCertificateK, "contract_id": c.ID, "document_sha256": c.DocumentSHA256,
			"supplier_signature": c.SupplierSignature, "agent_signature": c.AgentSignature,
			"valid_from": c.doc.ValidFrom, "valid_until": c.doc.ValidUntil, "certified_at": store.FormatTime(now), "issuer": actor.ParticipantID}
		canon, certSum, err := canonical(cert)
		if err != nil {
			return "", dataport.Internal(op, err)
		}
		note, err := s.signer.SignStatement(ContractCertificateK, []byte(canon))
		if err != nil {
			return "", dataport.Internal(op, err)
		}
		c.Status, c.Certificate, c.CertifiedAt = "certified", string(note), now
		c.extra = map[string]any{"certificate_sha256": certSum, "certificate": json.RawMessage(canon)}
		return "compliance.contract_certified", nil
	})
}

// RevokeContract ends a contract before its term: the operator, or either party.
func (s *Service) RevokeContract(ctx context.Context, actor dataport.Actor, id, reason string) (AgencyContract, error) {
	const op = "compliance.RevokeContract"
	if reason = strings.TrimSpace(reason); reason == "" {
		return AgencyContract{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "say why"})
	}
	return s.changeContract(ctx, op, actor, id, func(tx *store.Tx, c *AgencyContract) (string, error) {
		if actor.ParticipantID != c.SupplierID && actor.ParticipantID != c.AgentID && !actor.Has(dataport.RoleOperator) {
			return "", dataport.Errorf(op, dataport.KindForbidden, "a contract is revoked by a party or the operator")
		}
		if c.Status == "revoked" {
			return "", dataport.Errorf(op, dataport.KindConflict, "contract %s is revoked already", c.ID)
		}
		c.Status, c.StatusReason = "revoked", reason
		return "compliance.contract_revoked", nil
	})
}

// changeContract loads a contract the actor may see, lets fn change it, stores it and
// files fn's event.
func (s *Service) changeContract(ctx context.Context, op string, actor dataport.Actor, id string,
	fn func(tx *store.Tx, c *AgencyContract) (string, error)) (AgencyContract, error) {
	if actor.Anonymous() {
		return AgencyContract{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var c AgencyContract
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if c, err = s.contract(tx, op, actor, id); err != nil {
			return err
		}
		event, err := fn(tx, &c)
		if err != nil {
			return err
		}
		sig := func(s *ContractSignature) (string, string) {
			if s == nil {
				return "", ""
			}
			return s.KeyID, s.Signature
		}
		sk, ss := sig(c.SupplierSignature)
		ak, as := sig(c.AgentSignature)
		if _, err := tx.Exec(`UPDATE agency_contracts SET supplier_key_id = $2, supplier_signature = $3, agent_key_id = $4,
			agent_signature = $5, certificate = $6, status = $7, status_reason = $8, certified_at = $9, updated_at = $10 WHERE id = $1`,
			c.ID, sk, ss, ak, as, c.Certificate, c.Status, c.StatusReason, store.FormatTime(c.CertifiedAt), store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal(op, err)
		}
		payload := map[string]any{"contract_id": c.ID, "status": c.Status, "document_sha256": c.DocumentSHA256}
		for k, v := range c.extra {
			payload[k] = v
		}
		if c.StatusReason != "" {
			payload["reason"] = c.StatusReason
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: event, Subjects: []string{c.ID, c.SupplierID, c.AgentID}, Payload: payload})
		c.InForce = inForce(&c, tx.Now())
		return err
	})
	if s.signer != nil && c.Certificate != "" {
		c.VerifierKey = s.signer.VerifierKey()
	}
	return c, err
}

func inForce(c *AgencyContract, now time.Time) bool {
	today := Today(now).Format(time.DateOnly)
	return c.Status == "certified" && c.doc.ValidFrom <= today && today <= c.doc.ValidUntil
}

const contractColumns = `id, supplier_id, agent_id, document, document_sha256, supplier_key_id, supplier_signature, agent_key_id,
	agent_signature, certificate, status, status_reason, certified_at, created_at`

func scanContract(row interface{ Scan(...any) error }) (AgencyContract, error) {
	var c AgencyContract
	var sk, ss, ak, as, certified, created string
	if err := row.Scan(&c.ID, &c.SupplierID, &c.AgentID, &c.Document, &c.DocumentSHA256, &sk, &ss, &ak, &as, &c.Certificate,
		&c.Status, &c.StatusReason, &certified, &created); err != nil {
		return AgencyContract{}, err
	}
	if sk != "" {
		c.SupplierSignature = &ContractSignature{KeyID: sk, Signature: ss}
	}
	if ak != "" {
		c.AgentSignature = &ContractSignature{KeyID: ak, Signature: as}
	}
	c.CertifiedAt, _ = store.ParseTime(certified)
	c.CreatedAt, _ = store.ParseTime(created)
	if err := json.Unmarshal([]byte(c.Document), &c.doc); err != nil {
		return AgencyContract{}, err
	}
	return c, nil
}

// contract reads a contract its parties, the operator and regulators may see.
func (s *Service) contract(tx *store.Tx, op string, actor dataport.Actor, id string) (AgencyContract, error) {
	c, err := scanContract(tx.QueryRow(`SELECT `+contractColumns+` FROM agency_contracts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && actor.ParticipantID != c.SupplierID && actor.ParticipantID != c.AgentID &&
		!actor.Has(dataport.RoleOperator, dataport.RoleRegulator) && !actor.IsSystem() {
		return AgencyContract{}, dataport.Errorf(op, dataport.KindNotFound, "no agency contract %s", id)
	}
	if err != nil {
		return AgencyContract{}, dataport.Internal(op, err)
	}
	c.InForce = inForce(&c, tx.Now())
	return c, nil
}

// Contract reads one contract.
func (s *Service) Contract(ctx context.Context, actor dataport.Actor, id string) (AgencyContract, error) {
	const op = "compliance.Contract"
	if actor.Anonymous() {
		return AgencyContract{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var c AgencyContract
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		c, err = s.contract(tx, op, actor, id)
		return err
	})
	if s.signer != nil && c.Certificate != "" {
		c.VerifierKey = s.signer.VerifierKey()
	}
	return c, err
}

// Contracts lists a participant's contracts (as supplier or agent): the participant,
// the operator and regulators.
func (s *Service) Contracts(ctx context.Context, actor dataport.Actor, participantID string) ([]AgencyContract, error) {
	const op = "compliance.Contracts"
	if actor.ParticipantID != participantID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindNotFound, "no participant %s", participantID)
	}
	return s.queryContracts(ctx, op, `supplier_id = $1 OR agent_id = $1`, participantID)
}

// queryContracts reads the contracts matching where (over arg), in id order, with
// whether each is in force now.
func (s *Service) queryContracts(ctx context.Context, op, where string, arg any) ([]AgencyContract, error) {
	out := []AgencyContract{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT `+contractColumns+` FROM agency_contracts WHERE `+where+` ORDER BY id`, arg)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanContract(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			c.InForce = inForce(&c, tx.Now())
			out = append(out, c)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// contractCovers reports whether agent holds a certified agency contract for the
// supplier, in force now, covering the product by id or category (R22).
func contractCovers(tx *store.Tx, agent, supplier string, p *catalog.Product, now time.Time) (bool, error) {
	rows, err := tx.Query(`SELECT `+contractColumns+` FROM agency_contracts WHERE agent_id = $1 AND supplier_id = $2 AND status = 'certified'`,
		agent, supplier)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanContract(rows)
		if err != nil {
			return false, err
		}
		if inForce(&c, now) && (slices.Contains(c.doc.ProductIDs, p.ID) || slices.Contains(c.doc.Categories, p.Details.Category)) {
			return true, nil
		}
	}
	return false, rows.Err()
}
