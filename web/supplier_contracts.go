package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/compliance"
)

// Agency contracts (R22): a foreign supplier's data enters through a domestic agent
// under a contract both sign with their registered Ed25519 keys over its RFC 8785
// canonical JSON, which the exchange then certifies (the operator's pages). Either
// party proposes one here and each signs it in the browser (static/sign.js): the
// private key never leaves the signer's machine, and without JavaScript a signature
// made elsewhere is pasted. compliance checks the parties, the key and the signature.

// supplierContractsPage is the supplier-contracts template's data.
type supplierContractsPage struct {
	Contracts []supplierContractRow
	// Propose is the proposal form; nil for a participant that is no party of an
	// agency contract (a domestic supplier, whose products need no agent).
	Propose *Form
	AsAgent bool // the proposer is the agent, and names the foreign supplier
}

// supplierContractRow is a contract as the page shows it, with its sign form when the
// signed-in party has yet to sign it.
type supplierContractRow struct {
	compliance.AgencyContract
	Doc      compliance.ContractDocument
	Supplier string
	Agent    string
	Sign     *Form // nil when the actor has nothing to sign
}

var supplierProposeFields = Fields{
	"supplier_id": {Input: "counterparty", Message: "supplier.contract.error.supplier"},
	"agent_id":    {Input: "counterparty", Message: "supplier.contract.error.agent"},
	"valid_from":  {Input: "valid_from", Message: "supplier.problem.date"},
	"valid_until": {Input: "valid_until", Message: "supplier.contract.error.until"},
	"categories":  {Input: "categories", Message: "supplier.contract.error.cover"},
	"product_ids": {Input: "product_ids", Message: "supplier.contract.error.products"},
	"terms":       {Input: "terms", Message: "supplier.contract.error.terms"},
}

// supplierSignFields bind a signature's problems to the sign form of contract id (a page
// may hold several).
func supplierSignFields(id string) Fields {
	return Fields{
		"key_id":    {Input: "key_id-" + id, Message: "supplier.sign.error.key"},
		"signature": {Input: "signature-" + id, Message: "supplier.sign.error.signature"},
	}
}

func (c *Console) supplierContracts(q *Request) error {
	return c.renderContracts(q, http.StatusOK, nil, "", nil)
}

// renderContracts shows the actor's contracts; propose is the proposal form as
// typed, and signing the sign form of contract signingID as typed.
func (c *Console) renderContracts(q *Request, status int, propose *Form, signingID string, signing *Form) error {
	me := q.Actor.ParticipantID
	contracts, err := c.deps.Compliance.Contracts(q.Context(), q.Actor, me)
	if err != nil {
		return err
	}
	d := supplierContractsPage{AsAgent: q.Actor.Has(dataport.RoleAgent)}
	// A foreign supplier or a domestic agent is a party of agency contracts.
	if d.AsAgent || supplierForeign(q) {
		d.Propose = propose
		if propose == nil {
			d.Propose = NewForm(nil)
		}
	}
	names := c.participantNames(q)
	for i := len(contracts) - 1; i >= 0; i-- { // newest first
		k := contracts[i]
		row := supplierContractRow{AgencyContract: k}
		if err := json.Unmarshal([]byte(k.Document), &row.Doc); err != nil {
			return dataport.Internal("web.supplierContracts", err)
		}
		// The parties as the contract names them, which both signed: each may not
		// read the other's registry record.
		row.Supplier, row.Agent = q.Text(row.Doc.Supplier.LegalName), q.Text(row.Doc.Agent.LegalName)
		if row.Supplier == "" {
			row.Supplier = names(k.SupplierID)
		}
		if row.Agent == "" {
			row.Agent = names(k.AgentID)
		}
		mine := k.SupplierID == me && k.SupplierSignature == nil || k.AgentID == me && k.AgentSignature == nil
		if k.Status == "proposed" && mine {
			row.Sign = NewForm(nil)
			if k.ID == signingID && signing != nil {
				row.Sign = signing
			}
		}
		d.Contracts = append(d.Contracts, row)
	}
	return q.Render(status, "supplier-contracts", d)
}

func (c *Console) supplierPropose(q *Request) error {
	form := q.Form()
	n := compliance.NewAgencyContract{Categories: supplierSplit(strings.ToLower(form.Get("categories"))),
		ProductIDs: supplierSplit(form.Get("product_ids")), ValidFrom: form.Get("valid_from"), ValidUntil: form.Get("valid_until"),
		Terms: strings.TrimSpace(form.Values.Get("terms"))}
	// The agent names the foreign supplier it acts for, the supplier its agent.
	if q.Actor.Has(dataport.RoleAgent) {
		n.AgentID, n.SupplierID = q.Actor.ParticipantID, form.Get("counterparty")
	} else {
		n.SupplierID, n.AgentID = q.Actor.ParticipantID, form.Get("counterparty")
	}
	k, err := c.deps.Compliance.ProposeContract(q.Context(), q.Actor, n)
	if form.Absorb(err, q.Localizer, supplierProposeFields) {
		return c.renderContracts(q, http.StatusUnprocessableEntity, form, "", nil)
	} else if err != nil {
		return err
	}
	q.Redirect("/supplier/contracts#" + k.ID)
	return nil
}

func (c *Console) supplierSign(q *Request) error {
	form := q.Form()
	id := q.PathValue("id")
	_, err := c.deps.Compliance.SignContract(q.Context(), q.Actor, id,
		compliance.ContractSignature{KeyID: form.Get("key_id"), Signature: strings.Join(strings.Fields(form.Get("signature")), "")})
	if form.Absorb(err, q.Localizer, supplierSignFields(id)) {
		return c.renderContracts(q, http.StatusUnprocessableEntity, nil, id, form)
	} else if err != nil {
		return err
	}
	q.Redirect("/supplier/contracts#" + id)
	return nil
}
