package trade

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// The contract of a deal (ARCHITECTURE principle 8: RFC 8785 canonical JSON for
// anything signed). It names the parties and the agent, the product's registration
// number, revision and details hash, the price, the usage policy as an ODRL
// agreement, and the cross-border basis from the compliance assessment. The provider
// signs it when it agrees, the buyer when it verifies, both with registered Ed25519
// keys; the exchange countersigns when the deal is finalised, and the signed bundle is
// stored as a blob whose hash is filed.

// ContractType is the type field of a deal's contract.
const ContractType = "dataport data contract v1"

// CountersignatureKind is the first line of the exchange's countersignature note.
const CountersignatureKind = "dataport contract countersignature v1"

// Signer is the exchange's signing key.
type Signer interface {
	SignStatement(kind string, canonical []byte) ([]byte, error)
	VerifierKey() string
}

// Signature is a party's Ed25519 signature over the contract's canonical JSON.
type Signature struct {
	KeyID     string `json:"key_id" doc:"a signing key registered to the signer"`
	Signature string `json:"signature" doc:"base64 Ed25519 signature over the contract's canonical JSON"`
}

// Assent is a buyer's verification of the contract given as an authenticated protocol
// message rather than an Ed25519 signature. A connector of a data space verifies an
// agreement with the Dataspace Protocol's ContractAgreementVerificationMessage (DSP
// 2025-1, "Contract Negotiation Protocol"); it holds no signing key registered here,
// and the protocol leaves the message's proof to the data space's identity profile.
// What binds the buyer then is the message it sent under a key the exchange issued
// to it: the assent records that key and the SHA-256 of the message's RFC 8785
// canonical JSON next to the contract's hash, and the exchange's countersignature
// covers the assent as it covers a signature, so the record cannot change later.
type Assent struct {
	Protocol       string `json:"protocol" doc:"the protocol and message the buyer verified with"`
	KeyID          string `json:"key_id" doc:"the API key the message was authenticated with"`
	MessageSHA256  string `json:"message_sha256" doc:"SHA-256 of the message's RFC 8785 canonical JSON"`
	ContractSHA256 string `json:"contract_sha256" doc:"the contract the message verifies"`
}

// ContractDraft is the contract as it stands: what the provider signs to agree and the
// buyer signs to verify.
type ContractDraft struct {
	Document string `json:"document" doc:"canonical JSON: sign exactly these bytes"`
	SHA256   string `json:"sha256"`
}

type party struct {
	ID           string             `json:"id"`
	LegalName    dataport.Bilingual `json:"legal_name"`
	Jurisdiction string             `json:"jurisdiction"`
	Registration string             `json:"registration"`
}

func partyOf(p registry.Participant) party {
	reg := p.USCC
	if reg == "" {
		reg = p.RegistrationNumber
	}
	return party{ID: p.ID, LegalName: p.LegalName, Jurisdiction: p.Jurisdiction, Registration: reg}
}

// contractDocument builds the contract from the deal, the product revision, the
// parties and the agreement's assessment. The same inputs give the same bytes, so a
// party can fetch the draft, sign it, and the exchange rebuilds and checks it.
func contractDocument(tx *store.Tx, reg participants, d *Deal, p *catalog.Product, a *assessmentBasis) (string, string, error) {
	parties := map[string]any{}
	for role, id := range map[string]string{"buyer": d.BuyerID, "supplier": d.SupplierID, "agent": d.AgentID} {
		if id == "" {
			continue
		}
		pp, err := reg.Participant(tx, id)
		if err != nil {
			return "", "", err
		}
		parties[role] = partyOf(pp)
	}
	buyer, _ := reg.Participant(tx, d.BuyerID)
	term := d.TermDays
	starts := d.CreatedAt.In(china).Format(time.DateOnly)
	ends := d.CreatedAt.In(china).AddDate(0, 0, int(term)).Format(time.DateOnly)
	target := fmt.Sprintf("urn:dataport:product:%s:%d", d.RegistrationNumber, d.Revision)
	// The usage policy, an ODRL 2.2 agreement: use for the declared purpose and
	// scenario, in the buyer's territory, within the term, at most max_uses times;
	// no redistribution; deletion when the term ends.
	policy := map[string]any{
		"@context": "http://www.w3.org/ns/odrl.jsonld",
		"@type":    "Agreement",
		"uid":      "urn:dataport:deal:" + d.ID,
		"assigner": "urn:dataport:participant:" + d.SupplierID,
		"assignee": "urn:dataport:participant:" + d.BuyerID,
		"target":   target,
		"permission": []any{map[string]any{"action": "use", "constraint": []any{
			map[string]any{"leftOperand": "purpose", "operator": "eq", "rightOperand": d.Purpose},
			map[string]any{"leftOperand": "dataport:scenario", "operator": "eq", "rightOperand": d.Scenario},
			map[string]any{"leftOperand": "spatial", "operator": "eq", "rightOperand": buyer.Jurisdiction},
			map[string]any{"leftOperand": "dateTime", "operator": "gteq", "rightOperand": starts},
			map[string]any{"leftOperand": "dateTime", "operator": "lteq", "rightOperand": ends},
			map[string]any{"leftOperand": "count", "operator": "lteq", "rightOperand": d.MaxUses},
		}}},
		"prohibition": []any{map[string]any{"action": "distribute"}},
		"obligation": []any{map[string]any{"action": "delete", "constraint": []any{
			map[string]any{"leftOperand": "dateTime", "operator": "gt", "rightOperand": ends}}}},
	}
	doc := map[string]any{
		"type":     ContractType,
		"deal_id":  d.ID,
		"parties":  parties,
		"product":  map[string]any{"id": p.ID, "registration_number": d.RegistrationNumber, "revision": d.Revision, "details_sha256": p.DetailsSHA256},
		"plan":     d.Plan,
		"price":    d.Price,
		"delivery": d.DeliveryMode,
		"policy":   policy,
		"cross_border_basis": map[string]any{"outcome": a.Outcome, "pack_version": a.PackVersion, "rules": a.Rules,
			"approvals": a.Approvals},
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", "", err
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(canon)
	return string(canon), hex.EncodeToString(sum[:]), nil
}

var china = dataport.China

// assessmentBasis is what the contract records of the assessment: not its id or
// time, which change with every assessment, but what it decided and on what.
type assessmentBasis struct {
	Outcome     string   `json:"outcome"`
	PackVersion string   `json:"pack_version"`
	Rules       []string `json:"rules"`
	Approvals   []string `json:"approvals"`
}

func basisOf(a *compliance.Assessment) *assessmentBasis {
	b := &assessmentBasis{Outcome: a.Outcome, PackVersion: a.PackVersion, Rules: a.FiredIDs(), Approvals: []string{}}
	if b.Rules == nil {
		b.Rules = []string{}
	}
	for _, r := range a.Requirements {
		for _, u := range r.SatisfiedBy {
			b.Approvals = append(b.Approvals, u.Kind+":"+u.Reference)
		}
	}
	return b
}

type participants interface {
	Participant(tx *store.Tx, id string) (registry.Participant, error)
}

// checkSignature verifies a party's signature over the document with its key.
func checkSignature(tx *store.Tx, op, who, doc string, sig Signature) error {
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil {
		return dataport.Invalid(op, dataport.FieldProblem{Field: "signature", Message: "base64 of a 64-byte Ed25519 signature"})
	}
	return dataport.Wrap(op, registry.VerifySignature(tx, who, sig.KeyID, []byte(doc), raw))
}

// bundle is what is stored as the signed contract: the contract, both signatures (or
// the provider's signature and the buyer's Assent) and the exchange's countersignature.
func bundle(d *Deal) ([]byte, error) {
	fields := map[string]any{"contract": json.RawMessage(d.Contract), "contract_sha256": d.ContractSHA256,
		"provider_signature": d.ProviderSignature, "buyer_signature": d.BuyerSignature, "countersignature": d.Countersignature}
	if d.BuyerAssent != nil {
		fields["buyer_assent"] = d.BuyerAssent
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

// Contract returns the deal's contract as it stands — before agreement, the draft
// the provider signs to agree (built from the price on the table and a fresh
// assessment); after, the agreed contract. Its parties, the operator and regulators.
func (s *Service) Contract(ctx context.Context, actor dataport.Actor, id string) (ContractDraft, error) {
	const op = "trade.Contract"
	if actor.Anonymous() {
		return ContractDraft{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var out ContractDraft
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		d, err := get(tx, op, actor, id)
		if err != nil {
			return err
		}
		if d.Contract != "" {
			out = ContractDraft{Document: d.Contract, SHA256: d.ContractSHA256}
			return nil
		}
		if d.State == Terminated || d.State == Offered {
			return dataport.Errorf(op, dataport.KindConflict, "deal %s is %s: there is no contract to sign", d.ID, d.State)
		}
		p, err := s.revision(tx, &d)
		if err != nil {
			return err
		}
		a, err := s.rules.PreviewDeal(tx, &p, d.BuyerID, d.Purpose, d.DeliveryMode)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		out.Document, out.SHA256, err = contractDocument(tx, s.reg, &d, &p, basisOf(&a))
		return dataport.Wrap(op, err)
	})
	return out, err
}
