package trade

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// The transaction certificate (交易憑證): issued when the buyer confirms delivery, it
// carries what CROSS-BORDER-RULES "What a transaction filing carries" lists — the
// parties and agent, the product's registration number and revision, the contract,
// scenario and purpose, volumes and PI counts, price and settlement, delivery, and the
// cross-border basis — and is filed, so its filing's inclusion proof proves it. The
// exchange signs its canonical JSON; `dataport verify -certificate FILE` checks the
// signature and the proof offline.

// CertificateKind is the first line of a signed transaction certificate.
const CertificateKind = "dataport transaction certificate v1"

// TransactionCertificate is a completed deal's certificate (交易憑證).
type TransactionCertificate struct {
	Type               string         `json:"type"`
	ID                 string         `json:"id"`
	DealID             string         `json:"deal_id"`
	BuyerID            string         `json:"buyer_id"`
	SupplierID         string         `json:"supplier_id"`
	AgentID            string         `json:"agent_id,omitempty"`
	RegistrationNumber string         `json:"registration_number"`
	Revision           int64          `json:"revision"`
	ContractSHA256     string         `json:"contract_sha256"`
	BundleSHA256       string         `json:"signed_contract_sha256"`
	Scenario           string         `json:"scenario"`
	Purpose            string         `json:"purpose"`
	PISubjects         int64          `json:"pi_subjects"`
	SensitivePI        int64          `json:"sensitive_pi_subjects"`
	Price              dataport.Money `json:"price"`
	Settlement         []Line         `json:"settlement"`
	SettlementPosting  string         `json:"settlement_posting"`
	Delivery           string         `json:"delivery_mode"`
	DeliveryConfirmed  string         `json:"delivery_confirmed_at"`
	DeliveryLog        []Delivered    `json:"delivery_log,omitempty" doc:"each file delivered whole: what, its hash, when"`
	AssessmentID       string         `json:"assessment_id"`
	CrossBorderBasis   any            `json:"cross_border_basis"`
	IssuedAt           string         `json:"issued_at"`
}

// Delivered is one entry of a certificate's delivery log.
type Delivered struct {
	Object      string `json:"object" doc:"a file's path"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	CompletedAt string `json:"completed_at"`
}

// SetDeliveryLog tells trade how to read a deal's delivery log for its certificate;
// the delivery capability sets it. Call it before serving.
func (s *Service) SetDeliveryLog(fn func(tx *store.Tx, dealID string) ([]Delivered, error)) {
	s.deliveryLog = fn
}

// certify builds, files and returns the certificate of a deal whose escrow was just
// released, and adds a completed export's PI subjects to its exporter's year-to-date
// counters (R14).
func (s *Service) certify(tx *store.Tx, actor dataport.Actor, d *Deal, posting string, lines []Line) error {
	const op = "trade.certify"
	var contract struct {
		Basis any `json:"cross_border_basis"`
	}
	json.Unmarshal([]byte(d.Contract), &contract)
	p, err := s.revision(tx, d)
	if err != nil {
		return err
	}
	now := store.FormatTime(tx.Now())
	c := TransactionCertificate{Type: CertificateKind, ID: dataport.NewID("tc"), DealID: d.ID, BuyerID: d.BuyerID, SupplierID: d.SupplierID,
		AgentID: d.AgentID, RegistrationNumber: d.RegistrationNumber, Revision: d.Revision, ContractSHA256: d.ContractSHA256,
		BundleSHA256: d.BundleSHA256, Scenario: d.Scenario, Purpose: d.Purpose, PISubjects: p.Details.PISubjects,
		SensitivePI: p.Details.SensitivePISubjects, Price: d.Price, Settlement: lines, SettlementPosting: posting,
		Delivery: d.DeliveryMode, DeliveryConfirmed: now, AssessmentID: d.AssessmentID, CrossBorderBasis: contract.Basis, IssuedAt: now}
	if s.deliveryLog != nil {
		if c.DeliveryLog, err = s.deliveryLog(tx, d.ID); err != nil {
			return dataport.Internal(op, err)
		}
	}
	if err := s.rules.CountCompleted(tx, d.AssessmentID); err != nil {
		return dataport.Internal(op, err)
	}
	return fileDeal(tx, actor, "trade.certified", d, map[string]any{"certificate": c})
}

// IssuedCertificate is a deal's certificate as filed.
type IssuedCertificate struct {
	Certificate TransactionCertificate `json:"certificate"`
	Canonical   string                 `json:"canonical" doc:"the certificate as RFC 8785 canonical JSON: what the exchange signs"`
	Filing      ledger.Filing
}

// Certificate returns a completed deal's certificate and the filing that carries it:
// the deal's parties, the operator and regulators.
func (s *Service) Certificate(ctx context.Context, actor dataport.Actor, id string) (IssuedCertificate, error) {
	const op = "trade.Certificate"
	if actor.Anonymous() {
		return IssuedCertificate{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var out IssuedCertificate
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := get(tx, op, actor, id); err != nil {
			return err
		}
		fs, err := ledger.List(tx, ledger.Filter{Subject: id, Type: "trade.certified", Limit: 1})
		if err != nil {
			return err
		}
		if len(fs) == 0 {
			return dataport.Errorf(op, dataport.KindNotFound, "deal %s has no certificate: it is issued when the buyer confirms delivery", id)
		}
		var payload struct {
			Certificate json.RawMessage `json:"certificate"`
		}
		if err := json.Unmarshal(fs[0].Payload, &payload); err != nil {
			return dataport.Internal(op, err)
		}
		if err := json.Unmarshal(payload.Certificate, &out.Certificate); err != nil {
			return dataport.Internal(op, err)
		}
		canon, err := jcs.Transform(payload.Certificate)
		if err != nil {
			return dataport.Internal(op, fmt.Errorf("certificate of %s: %w", id, err))
		}
		out.Canonical, out.Filing = string(canon), fs[0]
		return nil
	})
	return out, err
}
