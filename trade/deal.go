// Package trade runs deals: a buyer and a provider (the supplier, or the domestic
// agent acting for a foreign one) negotiate in the states of the Eclipse Dataspace
// Protocol 2025-1, the compliance engine assesses the deal at request and again at
// agreement, and the exchange holds the buyer's money in escrow until delivery is
// confirmed (released to the supplier, the agent's commission and the exchange's fee)
// or the deal ends early (refunded). Every step is filed.
//
// The money is held when the buyer commits to a price — its request, a
// counter-request, its acceptance of an offer — so that the price on the table is
// always covered when the provider agrees, and a deal the rules deny at agreement
// refunds the buyer at once.
//
//	REQUESTED ──offer──▶ OFFERED ──accept──▶ ACCEPTED ──agree──▶ AGREED ──verify──▶ VERIFIED ──finalize──▶ FINALIZED
//	    │  ▲                │                                  ▲
//	    │  └──counter-request┘                                  │
//	    └───────────────────────────agree────────────────────────┘
//	any state but FINALIZED ──terminate──▶ TERMINATED
//
// The consumer (buyer) requests, counter-requests, accepts and verifies; the
// provider offers, agrees and finalises; either terminates (DSP 2025-1, "Contract
// Negotiation", state machine). A move out of turn answers 409 naming the state and
// the moves allowed in it.
package trade

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// States of a negotiation (DSP 2025-1).
const (
	Requested  = "REQUESTED"
	Offered    = "OFFERED"
	Accepted   = "ACCEPTED"
	Agreed     = "AGREED"
	Verified   = "VERIFIED"
	Finalized  = "FINALIZED"
	Terminated = "TERMINATED"
)

// moves are the protocol's transitions: from a state, a move, by a side, to a state.
var moves = map[string][]move{
	Requested: {{"offer", provider, Offered}, {"agree", provider, Agreed}, {"terminate", either, Terminated}},
	Offered:   {{"request", consumer, Requested}, {"accept", consumer, Accepted}, {"terminate", either, Terminated}},
	Accepted:  {{"agree", provider, Agreed}, {"terminate", either, Terminated}},
	Agreed:    {{"verify", consumer, Verified}, {"terminate", either, Terminated}},
	Verified:  {{"finalize", provider, Finalized}, {"terminate", either, Terminated}},
}

type side int

const (
	consumer side = iota
	provider
	either
)

type move struct {
	name string
	by   side
	to   string
}

// Assessor is what trade needs of the compliance engine.
type Assessor interface {
	AssessDeal(tx *store.Tx, actor dataport.Actor, dealID string, p *catalog.Product, buyerID, purpose, mode string) (compliance.Assessment, error)
	PreviewDeal(tx *store.Tx, p *catalog.Product, buyerID, purpose, mode string) (compliance.Assessment, error)
	// CountCompleted adds a completed deal's PI subjects to its exporter's counters
	// when the assessed transfer was an export (R14).
	CountCompleted(tx *store.Tx, assessmentID string) error
}

// Options set the exchange's cut and the acceptance window.
type Options struct {
	FeeBasisPoints        int64 // the exchange's fee, of the price
	CommissionBasisPoints int64 // the agent's commission, of the price, for a foreign supplier's deals
	// AcceptanceWindow is how long after finalisation the buyer has to confirm
	// delivery or end the deal before the escrow is released anyway; 0: never.
	AcceptanceWindow time.Duration
}

// Service runs deals.
type Service struct {
	db     *store.DB
	reg    participants
	rules  Assessor
	signer Signer
	blobs  blob.Store
	opts   Options

	deliveryLog func(tx *store.Tx, dealID string) ([]Delivered, error)
}

// New returns the trade service: contracts are countersigned with signer and kept in
// blobs.
func New(db *store.DB, reg participants, rules Assessor, signer Signer, blobs blob.Store, opts Options) *Service {
	return &Service{db: db, reg: reg, rules: rules, signer: signer, blobs: blobs, opts: opts}
}

// Deal is a negotiation and its money.
type Deal struct {
	ID                 string                         `json:"id"`
	ProductID          string                         `json:"product_id"`
	Revision           int64                          `json:"revision" doc:"the product revision being bought"`
	RegistrationNumber string                         `json:"registration_number"`
	BuyerID            string                         `json:"buyer_id"`
	SupplierID         string                         `json:"supplier_id"`
	AgentID            string                         `json:"agent_id,omitempty"`
	ProviderID         string                         `json:"provider_id" doc:"who negotiates for the supplier: its agent, or the supplier"`
	State              string                         `json:"state" enum:"REQUESTED,OFFERED,ACCEPTED,AGREED,VERIFIED,FINALIZED,TERMINATED"`
	Moves              []string                       `json:"moves" doc:"the moves allowed now"`
	Plan               catalog.PricePlan              `json:"plan"`
	Price              dataport.Money                 `json:"price" doc:"the price on the table; agreed from AGREED on"`
	Scenario           string                         `json:"scenario"`
	Purpose            string                         `json:"purpose"`
	DeliveryMode       string                         `json:"delivery_mode"`
	AssessmentID       string                         `json:"assessment_id"`
	Outcome            string                         `json:"outcome" enum:"allow,require,deny"`
	Unmet              []compliance.RequirementResult `json:"unmet_requirements,omitempty" doc:"what holds the deal before agreement"`
	Held               dataport.Money                 `json:"held" doc:"in escrow now"`
	Settled            string                         `json:"settled,omitempty" enum:"held,released,refunded"`
	MaxUses            int64                          `json:"max_uses" doc:"downloads or calls the policy allows"`
	TermDays           int64                          `json:"term_days" doc:"the policy's term from the request"`
	Contract           string                         `json:"contract,omitempty" doc:"the agreed contract, canonical JSON"`
	ContractSHA256     string                         `json:"contract_sha256,omitempty"`
	ProviderSignature  *Signature                     `json:"provider_signature,omitempty"`
	BuyerSignature     *Signature                     `json:"buyer_signature,omitempty"`
	BuyerAssent        *Assent                        `json:"buyer_assent,omitempty" doc:"the buyer's verification as an authenticated protocol message, when it did not sign"`
	Countersignature   string                         `json:"countersignature,omitempty" doc:"the exchange's signed note over the contract's hash and both signatures"`
	BundleSHA256       string                         `json:"bundle_sha256,omitempty" doc:"the signed contract as stored in the blob store"`
	TerminatedBy       string                         `json:"terminated_by,omitempty"`
	TerminationReason  string                         `json:"termination_reason,omitempty"`
	CreatedAt          time.Time                      `json:"created_at"`
	UpdatedAt          time.Time                      `json:"updated_at"`
	Version            int64                          `json:"version"`
}

// NewDeal is a buyer's request.
type NewDeal struct {
	ProductID    string `json:"product_id"`
	Plan         int    `json:"plan" minimum:"0" doc:"index of the product's price plan"`
	Price        int64  `json:"price,omitempty" minimum:"0" doc:"a price other than the plan's, minor units: a counter-request"`
	Scenario     string `json:"scenario" doc:"one of the product's declared scenarios (R20)"`
	Purpose      string `json:"purpose" enum:"trade,transport,academic,manufacturing,marketing,contract_with_individual,hr,emergency,other"`
	DeliveryMode string `json:"delivery_mode" enum:"file,api,privacy_computing,sandbox,model_output"`
	MaxUses      int64  `json:"max_uses,omitempty" minimum:"0" maximum:"1000000" doc:"downloads or calls allowed; default 100"`
	TermDays     int64  `json:"term_days,omitempty" minimum:"0" maximum:"3660" doc:"days of use; default the plan's period, else a year"`
}

var purposes = []string{"trade", "transport", "academic", "manufacturing", "marketing", "contract_with_individual", "hr", "emergency", "other"}

// Request opens a deal for a listed product. The deal is assessed at once: a deny
// terminates it with the reasons; unmet requirements hold it before agreement.
func (s *Service) Request(ctx context.Context, actor dataport.Actor, n NewDeal) (Deal, error) {
	const op = "trade.Request"
	if actor.Anonymous() {
		return Deal{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleBuyer) {
		return Deal{}, dataport.Errorf(op, dataport.KindForbidden, "deals are requested by buyers")
	}
	var d Deal
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		p, err := catalog.ListedProduct(tx, n.ProductID)
		if err != nil {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "product_id", Message: "no listed product " + n.ProductID})
		}
		var probs dataport.Problems
		if n.Plan < 0 || n.Plan >= len(p.Details.PricePlans) {
			probs.Add("plan", "the index of one of the product's %d price plans", len(p.Details.PricePlans))
		}
		if !slices.Contains(p.Details.Scenarios, n.Scenario) {
			probs.Add("scenario", "one of the product's declared scenarios: %s", strings.Join(p.Details.Scenarios, "; "))
		}
		if !slices.Contains(purposes, n.Purpose) {
			probs.Add("purpose", "one of %s", strings.Join(purposes, ", "))
		}
		if !slices.Contains(p.Details.DeliveryModes, n.DeliveryMode) {
			probs.Add("delivery_mode", "one of the product's delivery modes: %s", strings.Join(p.Details.DeliveryModes, ", "))
		}
		if n.Price < 0 {
			probs.Add("price", "not negative")
		}
		if n.MaxUses < 0 || n.MaxUses > 1_000_000 {
			probs.Add("max_uses", "0 (the default, 100) to 1,000,000")
		}
		if n.TermDays < 0 || n.TermDays > 3660 {
			probs.Add("term_days", "0 (the plan's period) to 3660")
		}
		if err := probs.Err(op); err != nil {
			return err
		}
		if actor.ParticipantID == p.SupplierID || actor.ParticipantID == p.AgentID {
			return dataport.Errorf(op, dataport.KindForbidden, "a party does not buy its own product")
		}
		plan := p.Details.PricePlans[n.Plan]
		price := plan.Price
		if n.Price > 0 {
			price.Amount = n.Price
		}
		now := tx.Now()
		d = Deal{ID: dataport.NewID("deal"), ProductID: p.ID, Revision: p.ListedRevision, RegistrationNumber: p.RegistrationNumber,
			BuyerID: actor.ParticipantID, SupplierID: p.SupplierID, AgentID: p.AgentID, ProviderID: p.SupplierID, State: Requested,
			Plan: plan, Price: price, Scenario: n.Scenario, Purpose: n.Purpose, DeliveryMode: n.DeliveryMode,
			Held: dataport.Money{Currency: price.Currency}, MaxUses: n.MaxUses, TermDays: n.TermDays, CreatedAt: now, UpdatedAt: now, Version: 1}
		if d.MaxUses == 0 {
			d.MaxUses = 100
		}
		if d.TermDays == 0 {
			d.TermDays = map[string]int64{"month": 31, "quarter": 92, "year": 366}[plan.Period]
			if d.TermDays == 0 {
				d.TermDays = 365
			}
		}
		if p.AgentID != "" {
			d.ProviderID = p.AgentID
		}
		if err := insert(tx, &d); err != nil {
			return dataport.Internal(op, err)
		}
		if err := holdTo(tx, actor, &d, price.Amount); err != nil {
			return err
		}
		if err := fileDeal(tx, actor, "trade.requested", &d, map[string]any{"plan": plan}); err != nil {
			return err
		}
		return s.assess(tx, actor, &d, &p)
	})
	d.Moves = allowed(d.State)
	return d, err
}

// assess runs the compliance assessment; a deny terminates the deal (refunding
// anything held), with the rules' reasons.
func (s *Service) assess(tx *store.Tx, actor dataport.Actor, d *Deal, p *catalog.Product) error {
	_, err := s.assessed(tx, actor, d, p)
	return err
}

func (s *Service) assessed(tx *store.Tx, actor dataport.Actor, d *Deal, p *catalog.Product) (*compliance.Assessment, error) {
	a, err := s.rules.AssessDeal(tx, actor, d.ID, p, d.BuyerID, d.Purpose, d.DeliveryMode)
	if err != nil {
		return nil, err
	}
	d.AssessmentID, d.Outcome, d.Unmet = a.ID, a.Outcome, nil
	for _, r := range a.Requirements {
		if !r.Satisfied {
			d.Unmet = append(d.Unmet, r)
		}
	}
	if a.Outcome == "deny" {
		var rules []string
		for _, f := range a.Fired {
			if f.Effect == "deny" {
				rules = append(rules, f.Rule+": "+f.Reason.En)
			}
		}
		return &a, s.terminate(tx, dataport.System, d, "compliance: "+strings.Join(rules, "; "))
	}
	return &a, dataport.Wrap("trade.assess", update(tx, d))
}

// paused refuses a move while a party to the deal is suspended (叫停): the deal waits,
// and goes on from where it was when the suspension is lifted. Ending it stays open
// to the other party.
func paused(tx *store.Tx, op string, d *Deal) error {
	for _, p := range []string{d.BuyerID, d.SupplierID, d.AgentID} {
		if p == "" {
			continue
		}
		if err := registry.CheckActive(tx, p); err != nil {
			return dataport.Errorf(op, dataport.KindConflict, "deal %s is paused: participant %s is suspended", d.ID, p)
		}
	}
	return nil
}

// terminate ends a deal and refunds what is held.
func (s *Service) terminate(tx *store.Tx, actor dataport.Actor, d *Deal, reason string) error {
	if d.Settled == "held" {
		if _, err := post(tx, actor, "refund", d.ID, "", d.Held.Currency, []Line{
			{Account: "escrow", Amount: -d.Held.Amount},
			{Account: buyerAccount(d.BuyerID), Amount: d.Held.Amount},
		}); err != nil {
			return dataport.Internal("trade.terminate", err)
		}
		d.Settled, d.Held.Amount = "refunded", 0
	}
	d.State, d.TerminatedBy, d.TerminationReason = Terminated, actor.ParticipantID, reason
	if err := update(tx, d); err != nil {
		return dataport.Internal("trade.terminate", err)
	}
	return fileDeal(tx, actor, "trade.terminated", d, map[string]any{"reason": reason})
}

// holdTo brings the money held for a deal to amount: more from the buyer's balance
// (which must cover it), or the difference back to it.
func holdTo(tx *store.Tx, actor dataport.Actor, d *Deal, amount int64) error {
	const op = "trade.hold"
	diff := amount - d.Held.Amount
	if diff == 0 {
		return nil
	}
	if diff > 0 {
		have, err := balance(tx, buyerAccount(d.BuyerID), d.Price.Currency)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if have < diff {
			return dataport.Errorf(op, dataport.KindConflict, "the buyer's balance is %d %s; %d more must be held for the price of %d",
				have, d.Price.Currency, diff, amount)
		}
	}
	kind := "hold"
	if diff < 0 {
		kind = "refund"
	}
	if _, err := post(tx, actor, kind, d.ID, "", d.Price.Currency, []Line{
		{Account: buyerAccount(d.BuyerID), Amount: -diff},
		{Account: "escrow", Amount: diff},
	}); err != nil {
		return dataport.Internal(op, err)
	}
	d.Held = dataport.Money{Amount: amount, Currency: d.Price.Currency}
	d.Settled = "held"
	if amount == 0 {
		d.Settled = "refunded"
	}
	return dataport.Wrap(op, update(tx, d))
}

func allowed(state string) []string {
	out := []string{}
	for _, m := range moves[state] {
		out = append(out, m.name)
	}
	return out
}

// step runs one move of the protocol by actor on deal id: it checks the move is
// allowed in the deal's state and that the actor is on the side that makes it, then
// lets fn do the move's work. key, when given, makes the move idempotent.
func (s *Service) step(ctx context.Context, op string, actor dataport.Actor, id, name, key string, fn func(tx *store.Tx, d *Deal) (map[string]any, error)) (Deal, error) {
	return s.write(ctx, op, actor, id, name+" "+id, key, func(tx *store.Tx, d *Deal) error {
		var m *move
		for i := range moves[d.State] {
			if moves[d.State][i].name == name {
				m = &moves[d.State][i]
			}
		}
		if m == nil {
			now := strings.Join(allowed(d.State), ", ")
			if now == "" {
				now = "none, the negotiation is over"
			}
			return dataport.Errorf(op, dataport.KindConflict, "deal %s is %s: %s is not allowed; allowed: %s", d.ID, d.State, name, now)
		}
		isConsumer, isProvider := actor.ParticipantID == d.BuyerID, actor.ParticipantID == d.ProviderID
		if m.by == consumer && !isConsumer || m.by == provider && !isProvider || m.by == either && !isConsumer && !isProvider {
			return dataport.Errorf(op, dataport.KindForbidden, "%s is the %s's move", name, map[side]string{consumer: "buyer", provider: "provider", either: "parties'"}[m.by])
		}
		if name != "terminate" {
			if err := paused(tx, op, d); err != nil {
				return err
			}
		}
		from := d.State
		extra, err := fn(tx, d)
		if err != nil {
			return err
		}
		if d.State == from { // fn did not move it elsewhere (a terminate on deny does)
			d.State = m.to
		}
		if d.State == Terminated {
			return nil // terminate (asked for, or on a deny) updated and filed it
		}
		if err := update(tx, d); err != nil {
			return dataport.Internal(op, err)
		}
		return fileDeal(tx, actor, "trade."+pastTense[name], d, extra)
	})
}

// write runs fn on deal id in a write transaction for actor, once per idempotency
// key: a retry with the same key and operation answers with the deal as it is now,
// the same key for another operation is a conflict.
func (s *Service) write(ctx context.Context, op string, actor dataport.Actor, id, operation, key string, fn func(tx *store.Tx, d *Deal) error) (Deal, error) {
	if actor.Anonymous() {
		return Deal{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var d Deal
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if d, err = get(tx, op, actor, id); err != nil {
			return err
		}
		if done, err := s.idempotent(tx, actor, key, operation); err != nil {
			return err
		} else if done != "" {
			return errReplayed // the first request did it
		}
		if err := fn(tx, &d); err != nil {
			return err
		}
		return s.remember(tx, actor, key, operation, d.ID)
	})
	if errors.Is(err, errReplayed) {
		err = s.db.Read(ctx, func(tx *store.Tx) error {
			var err error
			d, err = get(tx, op, actor, id)
			return err
		})
	}
	d.Moves = allowed(d.State)
	return d, err
}

var pastTense = map[string]string{"offer": "offered", "request": "counter_requested", "accept": "accepted", "agree": "agreed",
	"verify": "verified", "finalize": "finalized", "terminate": "terminated"}

// Offer is the provider's offer (or counter-offer) at a price.
func (s *Service) Offer(ctx context.Context, actor dataport.Actor, id string, price int64) (Deal, error) {
	const op = "trade.Offer"
	return s.step(ctx, op, actor, id, "offer", "", func(tx *store.Tx, d *Deal) (map[string]any, error) {
		if price < 0 {
			return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "price", Message: "not negative"})
		}
		if price > 0 {
			d.Price.Amount = price
		}
		return map[string]any{"price": d.Price}, nil
	})
}

// CounterRequest is the buyer's answer to an offer at another price.
func (s *Service) CounterRequest(ctx context.Context, actor dataport.Actor, id string, price int64) (Deal, error) {
	const op = "trade.CounterRequest"
	return s.step(ctx, op, actor, id, "request", "", func(tx *store.Tx, d *Deal) (map[string]any, error) {
		if price <= 0 {
			return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "price", Message: "the price asked, minor units"})
		}
		d.Price.Amount = price
		return map[string]any{"price": d.Price}, holdTo(tx, actor, d, price)
	})
}

// Accept is the buyer's acceptance of the offer on the table: the offered price is
// held. Idempotent by key.
func (s *Service) Accept(ctx context.Context, actor dataport.Actor, id, key string) (Deal, error) {
	return s.step(ctx, "trade.Accept", actor, id, "accept", key, func(tx *store.Tx, d *Deal) (map[string]any, error) {
		return map[string]any{"price": d.Price}, holdTo(tx, actor, d, d.Price.Amount)
	})
}

// Agree is the provider's agreement to the price on the table, which the buyer's
// money in escrow covers. The deal is assessed again — the rules or the approvals may
// have changed since the request: a deny terminates it and refunds the buyer; unmet
// requirements refuse the agreement until they are met. Idempotent by key.
func (s *Service) Agree(ctx context.Context, actor dataport.Actor, id, key string, sig Signature) (Deal, error) {
	const op = "trade.Agree"
	return s.step(ctx, op, actor, id, "agree", key, func(tx *store.Tx, d *Deal) (map[string]any, error) {
		p, err := s.revision(tx, d)
		if err != nil {
			return nil, err
		}
		a, err := s.assessed(tx, actor, d, &p)
		if err != nil {
			return nil, err
		}
		if d.State == Terminated {
			return nil, nil
		}
		if len(d.Unmet) > 0 {
			var names []string
			for _, r := range d.Unmet {
				names = append(names, r.Name.En+" ("+strings.Join(r.Rules, ", ")+")")
			}
			return nil, dataport.Errorf(op, dataport.KindConflict, "deal %s is held: unmet requirements: %s", d.ID, strings.Join(names, "; "))
		}
		if d.Held.Amount != d.Price.Amount {
			return nil, dataport.Errorf(op, dataport.KindConflict, "deal %s: the price on the table (%d) is not what the buyer committed (%d)", d.ID, d.Price.Amount, d.Held.Amount)
		}
		// The provider's signature over the contract as the exchange builds it now.
		doc, sum, err := contractDocument(tx, s.reg, d, &p, basisOf(a))
		if err != nil {
			return nil, dataport.Internal(op, err)
		}
		if err := checkSignature(tx, op, actor.ParticipantID, doc, sig); err != nil {
			return nil, err
		}
		d.Contract, d.ContractSHA256, d.ProviderSignature = doc, sum, &sig
		return map[string]any{"price": d.Price, "assessment_id": d.AssessmentID, "contract_sha256": sum, "provider_signature": sig}, nil
	})
}

// revision reads the deal's revision of its product, which must still be listed
// (a listed product may since have been revised: the deal keeps its revision).
func (s *Service) revision(tx *store.Tx, d *Deal) (catalog.Product, error) {
	const op = "trade.revision"
	p, err := catalog.ListedProduct(tx, d.ProductID)
	if err != nil {
		return catalog.Product{}, dataport.Errorf(op, dataport.KindConflict, "product %s is no longer listed", d.ProductID)
	}
	if p.Revision == d.Revision {
		return p, nil
	}
	var details string
	if err := tx.QueryRow(`SELECT details, sha256 FROM product_revisions WHERE product_id = $1 AND revision = $2`, d.ProductID, d.Revision).
		Scan(&details, &p.DetailsSHA256); err != nil {
		return catalog.Product{}, dataport.Internal(op, err)
	}
	p.Revision = d.Revision
	return p, dataport.Wrap(op, json.Unmarshal([]byte(details), &p.Details))
}

// Verify is the buyer's verification of the agreement: its signature over the
// contract the provider signed.
func (s *Service) Verify(ctx context.Context, actor dataport.Actor, id string, sig Signature) (Deal, error) {
	const op = "trade.Verify"
	return s.step(ctx, op, actor, id, "verify", "", func(tx *store.Tx, d *Deal) (map[string]any, error) {
		if err := checkSignature(tx, op, actor.ParticipantID, d.Contract, sig); err != nil {
			return nil, err
		}
		d.BuyerSignature = &sig
		return map[string]any{"contract_sha256": d.ContractSHA256, "buyer_signature": sig}, nil
	})
}

// VerifyByMessage is the buyer's verification given as an authenticated protocol
// message (Assent): the actor must have been authenticated with an API key (the
// assent names it), and the message must verify the contract the provider signed.
func (s *Service) VerifyByMessage(ctx context.Context, actor dataport.Actor, id string, a Assent) (Deal, error) {
	const op = "trade.VerifyByMessage"
	var probs dataport.Problems
	if strings.TrimSpace(a.Protocol) == "" {
		probs.Add("protocol", "the protocol and message the buyer verified with")
	}
	if !isSHA256(a.MessageSHA256) {
		probs.Add("message_sha256", "the hex SHA-256 of the message's canonical JSON")
	}
	if err := probs.Err(op); err != nil {
		return Deal{}, err
	}
	if actor.KeyID == "" {
		return Deal{}, dataport.Errorf(op, dataport.KindForbidden, "a verification by message needs a caller authenticated with an API key")
	}
	a.KeyID = actor.KeyID
	return s.step(ctx, op, actor, id, "verify", "", func(tx *store.Tx, d *Deal) (map[string]any, error) {
		if a.ContractSHA256 != d.ContractSHA256 {
			return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "contract_sha256", Message: "the agreed contract's, " + d.ContractSHA256})
		}
		d.BuyerAssent = &a
		return map[string]any{"contract_sha256": d.ContractSHA256, "buyer_assent": a}, nil
	})
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Finalize is the provider's finalisation: the exchange countersigns the contract
// (a signed note over its hash and both signatures, checkable with the log's
// verifier key) and stores the signed bundle in the blob store; its hash is filed.
// The bundle is written before the transaction, outside the writer: if the
// transaction then fails, an unreferenced blob is left, never a missing one.
func (s *Service) Finalize(ctx context.Context, actor dataport.Actor, id string) (Deal, error) {
	const op = "trade.Finalize"
	var d Deal
	if err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		d, err = get(tx, op, actor, id)
		return err
	}); err != nil {
		return Deal{}, err
	}
	if d.State == Verified && actor.ParticipantID == d.ProviderID {
		fields := map[string]any{"type": CountersignatureKind, "deal_id": d.ID, "contract_sha256": d.ContractSHA256,
			"provider_signature": d.ProviderSignature, "buyer_signature": d.BuyerSignature, "finalized_at": store.FormatTime(s.db.Clock().Now())}
		if d.BuyerAssent != nil {
			fields["buyer_assent"] = d.BuyerAssent // only when given: earlier countersignatures keep their bytes
		}
		cs, err := json.Marshal(fields)
		if err != nil {
			return Deal{}, dataport.Internal(op, err)
		}
		canon, err := jcs.Transform(cs)
		if err != nil {
			return Deal{}, dataport.Internal(op, err)
		}
		note, err := s.signer.SignStatement(CountersignatureKind, canon)
		if err != nil {
			return Deal{}, dataport.Internal(op, err)
		}
		d.Countersignature = string(note)
		b, err := bundle(&d)
		if err != nil {
			return Deal{}, dataport.Internal(op, err)
		}
		info, err := s.blobs.Put(ctx, bytes.NewReader(b), int64(len(b)), "")
		if err != nil {
			return Deal{}, dataport.Wrap(op, err)
		}
		d.BundleSHA256 = info.SHA256
	}
	signed, stored, contract := d.Countersignature, d.BundleSHA256, d.ContractSHA256
	return s.step(ctx, op, actor, id, "finalize", "", func(tx *store.Tx, d *Deal) (map[string]any, error) {
		if signed == "" || d.ContractSHA256 != contract {
			return nil, dataport.Errorf(op, dataport.KindConflict, "deal %s changed while it was being finalised; try again", d.ID)
		}
		d.Countersignature, d.BundleSHA256 = signed, stored
		if err := grant(tx, s.reg, d); err != nil {
			return nil, dataport.Internal(op, err)
		}
		return map[string]any{"contract_sha256": d.ContractSHA256, "bundle_sha256": stored, "countersignature": signed}, nil
	})
}

// Terminate ends a deal before it is finalised, by either party, refunding what is
// held. Idempotent by key.
func (s *Service) Terminate(ctx context.Context, actor dataport.Actor, id, reason, key string) (Deal, error) {
	const op = "trade.Terminate"
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 1000 {
		return Deal{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "say why, in at most 1000 characters"})
	}
	return s.step(ctx, op, actor, id, "terminate", key, func(tx *store.Tx, d *Deal) (map[string]any, error) {
		return nil, s.terminate(tx, actor, d, reason)
	})
}

// ConfirmDelivery is the buyer's confirmation that it received what was agreed: the
// escrow is released to the supplier, less the agent's commission and the
// exchange's fee, and the transaction certificate is issued. Idempotent by key.
func (s *Service) ConfirmDelivery(ctx context.Context, actor dataport.Actor, id, key string) (Deal, error) {
	const op = "trade.ConfirmDelivery"
	return s.write(ctx, op, actor, id, "confirm "+id, key, func(tx *store.Tx, d *Deal) error {
		if actor.ParticipantID != d.BuyerID {
			return dataport.Errorf(op, dataport.KindForbidden, "the buyer confirms delivery")
		}
		if err := paused(tx, op, d); err != nil {
			return err
		}
		if d.State != Finalized || d.Settled != "held" {
			return dataport.Errorf(op, dataport.KindConflict, "deal %s is %s (money %s): delivery is confirmed on a finalized deal with money held", d.ID, d.State, d.Settled)
		}
		return s.release(tx, op, actor, d, key, "confirmed by the buyer")
	})
}

// release pays out a finalized deal's escrow — to the supplier, less the agent's
// commission and the exchange's fee — and issues the transaction certificate.
func (s *Service) release(tx *store.Tx, op string, actor dataport.Actor, d *Deal, key, why string) error {
	price := d.Held.Amount
	fee := price * s.opts.FeeBasisPoints / 10000
	commission := int64(0)
	if d.AgentID != "" {
		commission = price * s.opts.CommissionBasisPoints / 10000
	}
	lines := []Line{{Account: "escrow", Amount: -price}, {Account: "supplier:" + d.SupplierID, Amount: price - fee - commission},
		{Account: "fee:exchange", Amount: fee}}
	if commission > 0 {
		lines = append(lines, Line{Account: "commission:" + d.AgentID, Amount: commission})
	}
	posting, err := post(tx, actor, "release", d.ID, key, d.Held.Currency, lines)
	if err != nil {
		return dataport.Internal(op, err)
	}
	d.Settled, d.Held.Amount = "released", 0
	if err := update(tx, d); err != nil {
		return dataport.Internal(op, err)
	}
	if err := fileDeal(tx, actor, "trade.released", d, map[string]any{"posting_id": posting, "lines": lines, "why": why}); err != nil {
		return err
	}
	return s.certify(tx, actor, d, posting, lines)
}

// ReleaseDue releases the escrow of finalized deals whose buyer neither confirmed
// delivery nor ended them within the acceptance window after finalisation, as the
// exchange; it returns how many it released. Any server may run it: each release
// re-checks the deal in its own transaction, so two servers never pay twice.
func (s *Service) ReleaseDue(ctx context.Context) (int, error) {
	const op = "trade.ReleaseDue"
	if s.opts.AcceptanceWindow <= 0 {
		return 0, nil
	}
	var ids []string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT id FROM deals WHERE state = 'FINALIZED' AND settled = 'held' AND updated_at <= $1 ORDER BY updated_at LIMIT 100`,
			store.FormatTime(tx.Now().Add(-s.opts.AcceptanceWindow)))
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return dataport.Internal(op, err)
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			d, err := get(tx, op, dataport.System, id)
			if err != nil {
				return err
			}
			if d.State != Finalized || d.Settled != "held" || d.UpdatedAt.After(tx.Now().Add(-s.opts.AcceptanceWindow)) {
				return errReplayed // settled meanwhile
			}
			if paused(tx, op, &d) != nil {
				return errReplayed // a party is suspended: the money waits
			}
			return s.release(tx, op, dataport.System, &d, "", "the acceptance window passed")
		})
		switch {
		case err == nil:
			n++
		case !errors.Is(err, errReplayed):
			return n, err
		}
	}
	return n, nil
}

// Run releases due escrows until ctx ends, looking every interval.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.ReleaseDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Get reads a deal: its parties (buyer, supplier, agent), the operator and regulators.
func (s *Service) Get(ctx context.Context, actor dataport.Actor, id string) (Deal, error) {
	const op = "trade.Get"
	if actor.Anonymous() {
		return Deal{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var d Deal
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		d, err = get(tx, op, actor, id)
		return err
	})
	d.Moves = allowed(d.State)
	return d, err
}

const dealColumns = `id, product_id, revision, registration_number, buyer_id, supplier_id, agent_id, provider_id, state, plan,
	price_amount, currency, scenario, purpose, delivery_mode, assessment_id, outcome, held_amount, settled, terminated_by,
	termination_reason, created_at, updated_at, version, contract, contract_sha256, provider_key_id, provider_signature,
	buyer_key_id, buyer_signature, countersignature, bundle_sha256, max_uses, term_days, buyer_assent`

func get(tx *store.Tx, op string, actor dataport.Actor, id string) (Deal, error) {
	var d Deal
	var plan, created, updated, pk, ps, bk, bs, assent string
	err := tx.QueryRow(`SELECT `+dealColumns+` FROM deals WHERE id = $1`, id).Scan(&d.ID, &d.ProductID, &d.Revision, &d.RegistrationNumber,
		&d.BuyerID, &d.SupplierID, &d.AgentID, &d.ProviderID, &d.State, &plan, &d.Price.Amount, &d.Price.Currency, &d.Scenario, &d.Purpose,
		&d.DeliveryMode, &d.AssessmentID, &d.Outcome, &d.Held.Amount, &d.Settled, &d.TerminatedBy, &d.TerminationReason, &created, &updated, &d.Version,
		&d.Contract, &d.ContractSHA256, &pk, &ps, &bk, &bs, &d.Countersignature, &d.BundleSHA256, &d.MaxUses, &d.TermDays, &assent)
	if assent != "" {
		d.BuyerAssent = new(Assent)
		if jerr := json.Unmarshal([]byte(assent), d.BuyerAssent); jerr != nil && err == nil {
			err = jerr
		}
	}
	if pk != "" {
		d.ProviderSignature = &Signature{KeyID: pk, Signature: ps}
	}
	if bk != "" {
		d.BuyerSignature = &Signature{KeyID: bk, Signature: bs}
	}
	party := actor.ParticipantID == d.BuyerID || actor.ParticipantID == d.SupplierID || actor.ParticipantID == d.AgentID && d.AgentID != ""
	if errors.Is(err, sql.ErrNoRows) || err == nil && !party && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) && !actor.IsSystem() {
		return Deal{}, dataport.Errorf(op, dataport.KindNotFound, "no deal %s", id)
	}
	if err != nil {
		return Deal{}, dataport.Internal(op, err)
	}
	json.Unmarshal([]byte(plan), &d.Plan)
	d.Held.Currency = d.Price.Currency
	d.CreatedAt, _ = store.ParseTime(created)
	d.UpdatedAt, _ = store.ParseTime(updated)
	return d, nil
}

func insert(tx *store.Tx, d *Deal) error {
	plan, _ := json.Marshal(d.Plan)
	_, err := tx.Exec(`INSERT INTO deals (`+dealColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '', '', 0, '', '', '',
		$16, $16, 1, '', '', '', '', '', '', '', '', $17, $18, '')`,
		d.ID, d.ProductID, d.Revision, d.RegistrationNumber, d.BuyerID, d.SupplierID, d.AgentID, d.ProviderID, d.State, string(plan),
		d.Price.Amount, d.Price.Currency, d.Scenario, d.Purpose, d.DeliveryMode, store.FormatTime(d.CreatedAt), d.MaxUses, d.TermDays)
	return err
}

func update(tx *store.Tx, d *Deal) error {
	d.UpdatedAt, d.Version = tx.Now(), d.Version+1
	sig := func(s *Signature) (string, string) {
		if s == nil {
			return "", ""
		}
		return s.KeyID, s.Signature
	}
	pk, ps := sig(d.ProviderSignature)
	bk, bs := sig(d.BuyerSignature)
	assent := ""
	if d.BuyerAssent != nil {
		b, err := json.Marshal(d.BuyerAssent)
		if err != nil {
			return err
		}
		assent = string(b)
	}
	_, err := tx.Exec(`UPDATE deals SET state = $2, price_amount = $3, assessment_id = $4, outcome = $5, held_amount = $6, settled = $7,
		terminated_by = $8, termination_reason = $9, updated_at = $10, version = $11, contract = $12, contract_sha256 = $13,
		provider_key_id = $14, provider_signature = $15, buyer_key_id = $16, buyer_signature = $17, countersignature = $18,
		bundle_sha256 = $19, buyer_assent = $20 WHERE id = $1`,
		d.ID, d.State, d.Price.Amount, d.AssessmentID, d.Outcome, d.Held.Amount, d.Settled, d.TerminatedBy, d.TerminationReason,
		store.FormatTime(d.UpdatedAt), d.Version, d.Contract, d.ContractSHA256, pk, ps, bk, bs, d.Countersignature, d.BundleSHA256, assent)
	return err
}

// fileDeal files a step of a deal, naming the deal, its product and its parties, so
// the regulator's trace of any of them shows it.
func fileDeal(tx *store.Tx, actor dataport.Actor, event string, d *Deal, extra map[string]any) error {
	payload := map[string]any{"deal_id": d.ID, "state": d.State, "product_id": d.ProductID, "revision": d.Revision,
		"registration_number": d.RegistrationNumber, "buyer_id": d.BuyerID, "provider_id": d.ProviderID, "price": d.Price}
	if d.AssessmentID != "" {
		payload["assessment_id"], payload["outcome"] = d.AssessmentID, d.Outcome
	}
	for k, v := range extra {
		payload[k] = v
	}
	subjects := []string{d.ID, d.ProductID, d.BuyerID, d.SupplierID}
	if d.AgentID != "" {
		subjects = append(subjects, d.AgentID)
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: subjects, Payload: payload})
	return err
}
