package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/trade"
)

// The deals' pages, which a buyer and the provider of a product (its supplier, or
// the domestic agent acting for a foreign supplier, R22) share, each seeing its
// side: the list of one's deals, and a deal with its filed history and the moves of
// the Dataspace Protocol's negotiation allowed to the viewer now. trade decides who
// may make which move and answers a move out of turn with a conflict; the page
// only offers what the protocol allows the viewer in the deal's state.
//
// The contract is signed in the browser (static/sign.js, the person's Ed25519 key
// never leaves its machine) over its RFC 8785 canonical JSON, shown as the exact
// bytes signed. The moves that move money take an idempotency key rendered into
// the form, so a form sent twice moves it once.

// dealRoutes adds the pages of demands and deals, which buyers, suppliers and
// agents share, each seeing its side: /demands/… and /deals/….
func (c *Console) dealRoutes() {
	parties := []dataport.Role{dataport.RoleBuyer, dataport.RoleSupplier, dataport.RoleAgent}
	providers := []dataport.Role{dataport.RoleSupplier, dataport.RoleAgent}
	c.page("GET /demands", signedIn, c.demands, parties...)
	c.page("POST /demands", signedIn, c.postDemand, dataport.RoleBuyer)
	c.page("POST /demands/{id}/close", signedIn, c.closeDemand, dataport.RoleBuyer)
	c.page("POST /demands/{id}/quotes", signedIn, c.makeQuote, providers...)
	c.page("POST /demands/{id}/quotes/{quote}", signedIn, c.decideQuote, dataport.RoleBuyer)

	c.page("GET /deals", signedIn, c.deals, parties...)
	c.page("POST /deals", signedIn, c.requestDeal, dataport.RoleBuyer)
	c.page("GET /deals/{id}", signedIn, c.deal, parties...)
	for _, m := range dealMoves {
		c.page("POST /deals/{id}/"+m, signedIn, c.dealMove, parties...)
	}
	c.page("POST /deals/{id}/files", signedIn, c.uploadDealFile, providers...)
	c.page("POST /deals/{id}/seal", signedIn, c.sealDealFiles, providers...)
	c.page("POST /deals/{id}/certificate", signedIn, c.dealCertificate, parties...)
}

// dealMoves are the moves a deal's page sends, by the path's last segment: the
// protocol's (trade's moves) and the buyer's confirmation of delivery.
var dealMoves = []string{"offer", "counter", "accept", "agree", "verify", "finalize", "terminate", "confirm"}

func init() {
	for set, values := range map[string][]string{
		"dealstate":   {trade.Requested, trade.Offered, trade.Accepted, trade.Agreed, trade.Verified, trade.Finalized, trade.Terminated},
		"dealpurpose": {"trade", "transport", "academic", "manufacturing", "marketing", "contract_with_individual", "hr", "emergency", "other"},
		"dealsettled": {"held", "released", "refunded"},
		"dealevent":   {"requested", "offered", "counter_requested", "accepted", "agreed", "verified", "finalized", "terminated", "released", "certified", "used"},
		"dealside":    {"buyer", "provider", "supplier"},
		"dealaccount": {"balance", "supplier", "commission"},
		"quotestate":  {"open", "accepted", "declined"},
		"demandstate": {"open", "closed"},
	} {
		if _, ok := enums[set]; ok {
			panic("web: the enum set " + set + " is already registered")
		}
		enums[set] = values
	}
}

// dealsPage is the deals template's data.
type dealsPage struct {
	Deals    []dealRow
	State    string
	States   []string
	NextURL  string
	Balances []dealBalance
}

// dealBalance is one of the participant's accounts: "balance" (its money to buy
// with, funded by the operator), "supplier" (its revenue), "commission" (an
// agent's), as trade.Balances names them.
type dealBalance struct {
	Kind    string
	Balance dataport.Money
}

func dealBalances(bs []trade.Balance) []dealBalance {
	out := make([]dealBalance, 0, len(bs))
	for _, b := range bs {
		kind, _, _ := strings.Cut(b.Account, ":")
		out = append(out, dealBalance{Kind: kind, Balance: b.Balance})
	}
	return out
}

type dealRow struct {
	Deal         trade.Deal
	Title        string
	Counterparty string
	Side         string // "buyer" or "provider"
}

func (c *Console) deals(q *Request) error {
	f := q.Form()
	d := dealsPage{State: f.Get("state"), States: enums["dealstate"]}
	list, err := c.deps.Trade.Deals(q.Context(), q.Actor, trade.DealFilter{State: d.State, Before: f.Get("before"), Limit: 25})
	if dataport.KindOf(err) == dataport.KindInvalid {
		d.State = "" // an unknown state in the address: all of them
		list, err = c.deps.Trade.Deals(q.Context(), q.Actor, trade.DealFilter{Before: f.Get("before"), Limit: 25})
	}
	if err != nil {
		return err
	}
	names := c.participantNames(q)
	titles := c.dealProductTitles(q)
	for _, deal := range list {
		r := dealRow{Deal: deal, Title: titles(deal.ProductID), Side: "buyer", Counterparty: names(deal.ProviderID)}
		if deal.BuyerID != q.Actor.ParticipantID {
			r.Side, r.Counterparty = "provider", names(deal.BuyerID)
		}
		d.Deals = append(d.Deals, r)
	}
	if len(list) == 25 {
		d.NextURL = mustQuery(q.URL.RequestURI(), "before", list[len(list)-1].ID)
	}
	bs, err := c.deps.Trade.Balances(q.Context(), q.Actor, q.Actor.ParticipantID)
	if err != nil {
		return err
	}
	d.Balances = dealBalances(bs)
	return q.Render(http.StatusOK, "deals", d)
}

// dealProductTitles names products as the actor may see them, once per page; a
// product it may no longer see is its id.
func (c *Console) dealProductTitles(q *Request) func(id string) string {
	seen := map[string]string{}
	return func(id string) string {
		if t, ok := seen[id]; ok {
			return t
		}
		t := id
		if p, err := c.deps.Catalog.Get(q.Context(), q.Actor, id); err == nil {
			t = q.Text(p.Details.Title)
		}
		seen[id] = t
		return t
	}
}

// dealPage is the deal template's data.
type dealPage struct {
	Deal     trade.Deal
	Title    string
	Buyer    string
	Supplier string
	Agent    string
	// Side is the viewer's: "buyer", "provider", or "supplier" (a foreign
	// supplier whose agent negotiates for it).
	Side     string
	Can      map[string]bool // the moves the viewer may make now
	History  []trade.DealEvent
	Contract *trade.ContractDraft
	Balances []dealBalance
	Forms    map[string]*Form // each move's form, with its problems
	Refused  []string         // why a move the page no longer offers was refused
	Sign     map[string]dealSignFields
	Key      string // an idempotency key for the moves that take one
	// Files: the provider's uploads to the deal's revision, and whether they are
	// sealed; the buyer's files with their download links.
	FileDeal   bool
	Files      []delivery.File
	Sealed     *delivery.Manifest
	Manifest   *delivery.Manifest
	Links      map[string]string
	Deliveries []delivery.Delivery
	Cert       *trade.IssuedCertificate
	CertJSON   string
}

// dealSignFields are a signing form's inputs as the "sign-fields" template shows them.
type dealSignFields struct {
	Move string
	Form *Form
}

// dealFields binds trade's field problems to the deal page's inputs, by move.
var dealFields = map[string]Fields{
	"offer":     {"price": {Input: "offer-price", Message: "deals.error.price"}},
	"counter":   {"price": {Input: "counter-price", Message: "deals.error.price"}},
	"agree":     {"key_id": {Input: "agree-key_id"}, "signature": {Input: "agree-signature"}},
	"verify":    {"key_id": {Input: "verify-key_id"}, "signature": {Input: "verify-signature"}},
	"terminate": {"reason": {Input: "terminate-reason", Message: "deals.error.reason"}},
	"files":     {"path": {Input: "files-path", Message: "deals.error.path"}, "size": {Input: "files-file"}},
}

func (c *Console) deal(q *Request) error {
	return c.dealView(q, http.StatusOK, "", nil)
}

// dealView renders a deal as it stands for the viewer, with the form of move (if
// any) carrying what was typed and its problems.
func (c *Console) dealView(q *Request, status int, move string, form *Form) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	deal, err := c.deps.Trade.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	names := c.participantNames(q)
	d := dealPage{Deal: deal, Title: c.dealProductTitles(q)(deal.ProductID), Buyer: names(deal.BuyerID), Supplier: names(deal.SupplierID),
		Agent: names(deal.AgentID), Can: map[string]bool{}, Forms: map[string]*Form{},
		FileDeal: deal.DeliveryMode == "file"}
	me := actor.ParticipantID
	switch me {
	case deal.BuyerID:
		d.Side = "buyer"
	case deal.ProviderID:
		d.Side = "provider"
	case deal.SupplierID:
		d.Side = "supplier"
	}
	// The moves trade allows in this state, for the viewer's side (trade's table).
	for _, m := range deal.Moves {
		switch {
		case m == "terminate" && (d.Side == "buyer" || d.Side == "provider"):
			d.Can["terminate"] = true
		case m == "request" && d.Side == "buyer":
			d.Can["counter"] = true // the buyer's counter-request
		case (m == "accept" || m == "verify") && d.Side == "buyer":
			d.Can[m] = true
		case (m == "offer" || m == "agree" || m == "finalize") && d.Side == "provider":
			d.Can[m] = true
		}
	}
	if d.Side == "buyer" && deal.State == trade.Finalized && deal.Settled == "held" {
		d.Can["confirm"] = true
	}
	for _, m := range append(slices.Clone(dealMoves), "files") {
		d.Forms[m] = NewForm(nil)
	}
	if form != nil {
		d.Forms[move] = form
		if !d.Can[move] && move != "files" {
			// The move's form is gone with the state that allowed it: its
			// problems go to the top of the moves.
			d.Refused = form.General
		}
	}
	d.Sign = map[string]dealSignFields{"agree": {"agree", d.Forms["agree"]}, "verify": {"verify", d.Forms["verify"]}}
	d.Key = q.Form().Get("key")
	if d.Key == "" {
		d.Key = newDealKey()
	}
	history, err := c.deps.Trade.History(ctx, actor, id)
	if err != nil {
		return err
	}
	for _, e := range history {
		// The steps the page has words for; trade files others for its books.
		if slices.Contains(enums["dealevent"], strings.TrimPrefix(e.Type, "trade.")) {
			d.History = append(d.History, e)
		}
	}
	// The contract: the agreed one, or the draft the provider signs to agree.
	if deal.Contract != "" || d.Can["agree"] {
		draft, err := c.deps.Trade.Contract(ctx, actor, id)
		if err == nil {
			d.Contract = &draft
		} else if dataport.KindOf(err) != dataport.KindConflict {
			return err
		}
	}
	if d.Contract != nil {
		// The contract names the parties as the registry knows them: each side
		// sees the other's name there, which the registry shows only to itself.
		var doc struct {
			Parties map[string]struct {
				LegalName dataport.Bilingual `json:"legal_name"`
			} `json:"parties"`
		}
		if json.Unmarshal([]byte(d.Contract.Document), &doc) == nil {
			for role, name := range map[string]*string{"buyer": &d.Buyer, "supplier": &d.Supplier, "agent": &d.Agent} {
				if p, ok := doc.Parties[role]; ok && q.Text(p.LegalName) != "" {
					*name = q.Text(p.LegalName)
				}
			}
		}
	}
	if d.Side == "buyer" {
		bs, err := c.deps.Trade.Balances(ctx, actor, me)
		if err != nil {
			return err
		}
		d.Balances = dealBalances(bs)
	}
	if d.FileDeal && deal.State == trade.Finalized {
		if err := c.dealFiles(q, &d); err != nil {
			return err
		}
	}
	if deal.Settled == "released" {
		cert, err := c.deps.Trade.Certificate(ctx, actor, id)
		if err == nil {
			d.Cert = &cert
			d.CertJSON = cert.Canonical
		} else if err := optional(err); err != nil {
			return err
		}
	}
	return q.Render(status, "deal", d)
}

// dealFiles reads a finalized file deal's files: to its provider (the product's
// manager, who uploads them to the deal's revision and seals them) the revision's
// files, and to its buyer the sealed files with a signed link for each, which the
// REST API's download follows (delivery.MakeLink: the entitlement is checked, and
// one use counted, when the link is used).
func (c *Console) dealFiles(q *Request, d *dealPage) error {
	ctx, actor, deal := q.Context(), q.Actor, d.Deal
	if d.Side == "provider" || d.Side == "supplier" {
		fs, err := c.deps.Delivery.Files(ctx, actor, deal.ProductID, deal.Revision)
		if err := optional(err); err != nil {
			return err
		}
		d.Files = fs
		m, err := c.deps.Delivery.Manifest(ctx, actor, deal.ProductID, deal.Revision)
		if err == nil {
			d.Sealed = &m
		} else if err := optional(err); err != nil {
			return err
		}
	}
	if d.Side == "buyer" {
		m, err := c.deps.Delivery.DealManifest(ctx, actor, deal.ID)
		switch {
		case err == nil:
			d.Manifest, d.Links = &m, map[string]string{}
			for _, f := range m.Files {
				link, err := c.deps.Delivery.MakeLink(ctx, actor, deal.ID, f.Path, time.Hour)
				if err != nil {
					if err := optional(err); err != nil && dataport.KindOf(err) != dataport.KindConflict {
						return err
					}
					continue
				}
				d.Links[f.Path] = "/api/v1/deals/" + url.PathEscape(deal.ID) + "/download?" + link.Query
			}
		case dataport.KindOf(err) == dataport.KindConflict:
			// Not entitled now (its uses spent, or the deal ended): no links.
		default:
			if err := optional(err); err != nil {
				return err
			}
		}
		if d.Deliveries, err = c.deps.Delivery.Deliveries(ctx, actor, deal.ID); err != nil {
			return err
		}
	}
	return nil
}

// newDealKey is a fresh idempotency key for a page's forms.
func newDealKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "web-" + base64.RawURLEncoding.EncodeToString(b)
}

// dealMove makes one move of a deal, named by the path, as the viewer; bad input
// and moves the deal's state refuses come back on the deal's page at the move's
// form, with nothing changed.
func (c *Console) dealMove(q *Request) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	move := path.Base(q.URL.Path)
	f := q.Form()
	key := f.Get("key")
	var err error
	switch move {
	case "offer", "counter":
		deal, gerr := c.deps.Trade.Get(ctx, actor, id)
		if gerr != nil {
			return gerr
		}
		amount, ok := parseAmount(f.Get("price"), deal.Price.Currency)
		switch {
		case !ok || (move == "counter" && amount <= 0):
			f.Fail(move+"-price", q.T("deals.error.price"))
		case move == "offer":
			_, err = c.deps.Trade.Offer(ctx, actor, id, amount)
		default:
			_, err = c.deps.Trade.CounterRequest(ctx, actor, id, amount)
		}
	case "accept":
		_, err = c.deps.Trade.Accept(ctx, actor, id, key)
	case "agree":
		_, err = c.deps.Trade.Agree(ctx, actor, id, key, trade.Signature{KeyID: f.Get("key_id"), Signature: f.Get("signature")})
	case "verify":
		_, err = c.deps.Trade.Verify(ctx, actor, id, trade.Signature{KeyID: f.Get("key_id"), Signature: f.Get("signature")})
	case "finalize":
		_, err = c.deps.Trade.Finalize(ctx, actor, id)
	case "terminate":
		_, err = c.deps.Trade.Terminate(ctx, actor, id, f.Get("reason"), key)
	case "confirm":
		_, err = c.deps.Trade.ConfirmDelivery(ctx, actor, id, key)
	default:
		return dataport.Errorf("web.dealMove", dataport.KindNotFound, "no move %s", move)
	}
	if f.Invalid() {
		return c.dealView(q, http.StatusUnprocessableEntity, move, f)
	}
	if f.Absorb(err, q.Localizer, dealFields[move]) {
		return c.dealView(q, http.StatusUnprocessableEntity, move, f)
	}
	if dataport.KindOf(err) == dataport.KindConflict {
		// The deal's state refuses the move (it moved on meanwhile, the balance
		// does not cover the price, requirements are unmet): said at the form,
		// on the deal as it is now.
		f.Fail("", dataport.MessageOf(err))
		return c.dealView(q, http.StatusConflict, move, f)
	}
	if err != nil {
		return err
	}
	q.Redirect("/deals/" + url.PathEscape(id) + "#moves")
	return nil
}

// requestDeal is the buyer's request of a deal for a price plan of a product, from
// the product's page; bad input comes back there.
func (c *Console) requestDeal(q *Request) error {
	f := q.Form()
	n := trade.NewDeal{ProductID: f.Get("product_id"), Scenario: f.Get("scenario"), Purpose: f.Get("purpose"), DeliveryMode: f.Get("delivery_mode")}
	plan, err := strconv.Atoi(f.Get("plan"))
	if err != nil {
		plan = -1
	}
	n.Plan = plan
	if s := f.Get("price"); s != "" {
		p, perr := c.deps.Catalog.Get(q.Context(), q.Actor, n.ProductID)
		if perr != nil {
			return perr
		}
		currency := ""
		if plan >= 0 && plan < len(p.Details.PricePlans) {
			currency = p.Details.PricePlans[plan].Price.Currency
		}
		amount, ok := parseAmount(s, currency)
		if !ok || amount <= 0 {
			f.Fail("price", q.T("deals.error.price"))
		}
		n.Price = amount
	}
	for _, field := range []struct {
		name string
		to   *int64
		max  int64
	}{{"max_uses", &n.MaxUses, 1_000_000}, {"term_days", &n.TermDays, 3660}} {
		if s := f.Get(field.name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 || v > field.max {
				f.Fail(field.name, q.T("deals.error."+field.name))
			}
			*field.to = v
		}
	}
	if f.Invalid() {
		return c.productView(q, http.StatusUnprocessableEntity, n.ProductID, f)
	}
	d, err := c.deps.Trade.Request(q.Context(), q.Actor, n)
	if f.Absorb(err, q.Localizer, dealRequestFields) {
		return c.productView(q, http.StatusUnprocessableEntity, n.ProductID, f)
	}
	if dataport.KindOf(err) == dataport.KindConflict {
		f.Fail("", dataport.MessageOf(err)) // e.g. the balance does not cover the price
		return c.productView(q, http.StatusConflict, n.ProductID, f)
	}
	if err != nil {
		return err
	}
	q.Redirect("/deals/" + url.PathEscape(d.ID))
	return nil
}

// dealRequestFields binds trade.Request's field problems to the product page's form.
var dealRequestFields = Fields{
	"product_id":    {Input: ""},
	"plan":          {Input: "plan", Message: "deals.error.plan"},
	"scenario":      {Input: "scenario", Message: "deals.error.scenario"},
	"purpose":       {Input: "purpose", Message: "deals.error.purpose"},
	"delivery_mode": {Input: "delivery_mode", Message: "deals.error.delivery_mode"},
	"price":         {Input: "price", Message: "deals.error.price"},
	"max_uses":      {Input: "max_uses", Message: "deals.error.max_uses"},
	"term_days":     {Input: "term_days", Message: "deals.error.term_days"},
}

// uploadDealFile stores a file of a finalized file deal's revision, sent from the
// deal's page (one request; bigger files go through the API's resumable uploads).
func (c *Console) uploadDealFile(q *Request) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	deal, err := c.deps.Trade.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	f := NewForm(url.Values{"path": {q.FormValue("path")}})
	file, header, err := q.FormFile("file")
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) || (err == nil && header.Size > maxUpload) {
		if file != nil {
			file.Close()
		}
		return dataport.Errorf("web.uploadDealFile", dataport.KindTooLarge,
			"a file sent from the console is at most %d MiB: send larger ones through the API", maxUpload>>20)
	}
	if err != nil {
		f.Fail("files-file", q.T("deals.error.file"))
		return c.dealView(q, http.StatusUnprocessableEntity, "files", f)
	}
	defer file.Close()
	name := f.Get("path")
	if name == "" {
		name = header.Filename
		f.Values.Set("path", name)
	}
	media := header.Header.Get("Content-Type")
	_, err = c.deps.Delivery.PutFile(ctx, actor, deal.ProductID, deal.Revision,
		delivery.NewUpload{Path: name, Size: header.Size, MediaType: media}, file)
	if fs := dataport.FieldsOf(err); len(fs) == 1 && fs[0].Field == "media_type" {
		// A browser's guess at the type is no reason to refuse the file (the
		// type is checked before any byte is read).
		_, err = c.deps.Delivery.PutFile(ctx, actor, deal.ProductID, deal.Revision, delivery.NewUpload{Path: name, Size: header.Size}, file)
	}
	if f.Absorb(err, q.Localizer, dealFields["files"]) {
		return c.dealView(q, http.StatusUnprocessableEntity, "files", f)
	}
	if dataport.KindOf(err) == dataport.KindConflict {
		f.Fail("", dataport.MessageOf(err))
		return c.dealView(q, http.StatusConflict, "files", f)
	}
	if err != nil {
		return err
	}
	q.Redirect("/deals/" + url.PathEscape(id) + "#files")
	return nil
}

// sealDealFiles seals the deal's revision's files: the manifest's Merkle root is
// filed and the files are fixed, and the buyer may download them.
func (c *Console) sealDealFiles(q *Request) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	deal, err := c.deps.Trade.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	_, err = c.deps.Delivery.Seal(ctx, actor, deal.ProductID, deal.Revision)
	if dataport.KindOf(err) == dataport.KindConflict {
		f := NewForm(nil)
		f.Fail("", dataport.MessageOf(err))
		return c.dealView(q, http.StatusConflict, "files", f)
	}
	if err != nil {
		return err
	}
	q.Redirect("/deals/" + url.PathEscape(id) + "#files")
	return nil
}

// dealCertificate sends a completed deal's transaction certificate as a file, in
// the form the API gives it and `dataport verify -certificate` checks offline: the
// certificate, its canonical JSON, the exchange's signature, its verifier key, and
// the proof of its filing once a checkpoint covers it.
func (c *Console) dealCertificate(q *Request) error {
	ctx, id := q.Context(), q.PathValue("id")
	cert, err := c.deps.Trade.Certificate(ctx, q.Actor, id)
	if err != nil {
		return err
	}
	signed, err := c.deps.Log.SignStatement(trade.CertificateKind, []byte(cert.Canonical))
	if err != nil {
		return dataport.Internal("web.dealCertificate", err)
	}
	out := struct {
		Certificate trade.TransactionCertificate `json:"certificate"`
		Canonical   string                       `json:"canonical"`
		SignedNote  string                       `json:"signed_note"`
		VerifierKey string                       `json:"verifier_key"`
		FilingSeq   int64                        `json:"filing_seq"`
		Proof       string                       `json:"proof,omitempty"`
	}{Certificate: cert.Certificate, Canonical: cert.Canonical, SignedNote: string(signed), VerifierKey: c.deps.Log.VerifierKey(),
		FilingSeq: cert.Filing.Seq}
	if cp, covered := c.deps.Log.Latest(); covered && cp.Size >= cert.Filing.Seq {
		if out.Proof, err = c.deps.Log.ProofBundle(ctx, cert.Filing, cp); err != nil {
			return dataport.Internal("web.dealCertificate", err)
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return dataport.Internal("web.dealCertificate", err)
	}
	h := q.W.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="certificate-`+id+`.json"`)
	q.W.WriteHeader(http.StatusOK)
	q.W.Write(b)
	return nil
}

// The demands' page: a buyer posts what it needs (catalog.PostDemand), sees its
// demands with the listed products that fit them (catalog.Matches) and the quotes
// made for them, accepts or declines a quote, closes a demand; a supplier or an
// agent sees the open demands its listed products fit, and quotes for them.

type demandsPage struct {
	Form     *Form // the buyer's new demand
	Mine     []demandView
	Fitting  []demandFit
	Currency []string
	Modes    []string
}

type demandView struct {
	Demand  catalog.Demand
	Matches []catalog.Match
	Quotes  []demandQuote
}

type demandQuote struct {
	Quote   catalog.Quote
	By      string
	Product string
}

type demandFit struct {
	Demand catalog.Demand
	Fits   []catalog.Match
	Mine   []catalog.Quote // the quotes the viewer made for it
	Form   *Form           // the viewer's quote that came back with problems
}

var demandFields = Fields{
	"text":          {Input: "text", Message: "demands.error.text"},
	"category":      {Input: "category", Message: "demands.error.category"},
	"currency":      {Input: "currency", Message: "demands.error.currency"},
	"budget_max":    {Input: "budget_max", Message: "demands.error.budget"},
	"jurisdictions": {Input: "jurisdictions", Message: "demands.error.jurisdictions"},
	"delivery_mode": {Input: "delivery_mode"},
	"deadline":      {Input: "deadline", Message: "demands.error.deadline"},
}

var demandQuoteFields = Fields{
	"price":      {Input: "quote-price", Message: "deals.error.price"},
	"product_id": {Input: "quote-product", Message: "demands.error.product"},
	"message":    {Input: "quote-message", Message: "demands.error.message"},
}

func (c *Console) demands(q *Request) error {
	return c.demandsView(q, http.StatusOK, NewForm(url.Values{"currency": {"CNY"}}), nil, "")
}

func (c *Console) demandsView(q *Request, status int, form, quote *Form, quoteFor string) error {
	ctx, actor := q.Context(), q.Actor
	d := demandsPage{Form: form, Currency: searchCurrencies, Modes: enums["delivery"]}
	names := c.participantNames(q)
	titles := c.dealProductTitles(q)
	if actor.Has(dataport.RoleBuyer) {
		mine, err := c.deps.Catalog.Demands(ctx, actor, catalog.DemandFilter{Limit: 50})
		if err != nil {
			return err
		}
		for _, dm := range mine {
			v := demandView{Demand: dm}
			if dm.Status == "open" {
				if v.Matches, err = c.deps.Catalog.Matches(ctx, actor, dm.ID, 10); err != nil {
					return err
				}
			}
			quotes, err := c.deps.Catalog.Quotes(ctx, actor, dm.ID)
			if err != nil {
				return err
			}
			for _, qu := range quotes {
				v.Quotes = append(v.Quotes, demandQuote{Quote: qu, By: names(qu.QuotedBy), Product: titles(qu.ProductID)})
			}
			d.Mine = append(d.Mine, v)
		}
	}
	if actor.Has(dataport.RoleSupplier, dataport.RoleAgent) {
		fits, err := c.deps.Catalog.FittingDemands(ctx, actor, 50)
		if err != nil {
			return err
		}
		for _, fd := range fits {
			v := demandFit{Demand: fd.Demand, Fits: fd.Matches}
			quotes, err := c.deps.Catalog.Quotes(ctx, actor, fd.Demand.ID)
			if err := optional(err); err != nil {
				return err
			}
			v.Mine = quotes
			if quoteFor == fd.Demand.ID {
				v.Form = quote
			}
			d.Fitting = append(d.Fitting, v)
		}
	}
	return q.Render(status, "demands", d)
}

func (c *Console) postDemand(q *Request) error {
	f := q.Form()
	n := catalog.NewDemand{Text: f.Get("text"), Category: f.Get("category"), Currency: f.Get("currency"),
		DeliveryMode: f.Get("delivery_mode"), Deadline: f.Get("deadline")}
	var ok bool
	if n.BudgetMin, ok = parseAmount(f.Get("budget_min"), n.Currency); !ok {
		f.Fail("budget_min", q.T("catalog.error.amount"))
	}
	if n.BudgetMax, ok = parseAmount(f.Get("budget_max"), n.Currency); !ok {
		f.Fail("budget_max", q.T("catalog.error.amount"))
	}
	for _, j := range demandCountries(f.Get("jurisdictions")) {
		n.Jurisdictions = append(n.Jurisdictions, j)
	}
	if f.Invalid() {
		return c.demandsView(q, http.StatusUnprocessableEntity, f, nil, "")
	}
	dm, err := c.deps.Catalog.PostDemand(q.Context(), q.Actor, n)
	if f.Absorb(err, q.Localizer, demandFields) {
		return c.demandsView(q, http.StatusUnprocessableEntity, f, nil, "")
	}
	if err != nil {
		return err
	}
	q.Redirect("/demands#" + dm.ID)
	return nil
}

// demandCountries reads a list typed as words separated by commas or spaces, upper-cased
// (country codes).
func demandCountries(s string) []string {
	var out []string
	word := []rune{}
	flush := func() {
		if len(word) > 0 {
			out = append(out, string(word))
			word = word[:0]
		}
	}
	for _, r := range s {
		switch {
		case r == ',' || r == ' ' || r == '，' || r == '、' || r == ';':
			flush()
		case r >= 'a' && r <= 'z':
			word = append(word, r-'a'+'A')
		default:
			word = append(word, r)
		}
	}
	flush()
	return out
}

func (c *Console) closeDemand(q *Request) error {
	if _, err := c.deps.Catalog.CloseDemand(q.Context(), q.Actor, q.PathValue("id")); err != nil {
		return err
	}
	q.Redirect("/demands")
	return nil
}

func (c *Console) makeQuote(q *Request) error {
	f := q.Form()
	id := q.PathValue("id")
	currency := f.Get("currency")
	amount, ok := parseAmount(f.Get("price"), currency)
	if !ok || f.Get("price") == "" {
		f.Fail("quote-price", q.T("deals.error.price"))
		return c.demandsView(q, http.StatusUnprocessableEntity, NewForm(url.Values{"currency": {"CNY"}}), f, id)
	}
	_, err := c.deps.Catalog.MakeQuote(q.Context(), q.Actor, id, catalog.NewQuote{ProductID: f.Get("product_id"),
		Price: dataport.Money{Amount: amount, Currency: currency}, Message: f.Get("message")})
	if f.Absorb(err, q.Localizer, demandQuoteFields) {
		return c.demandsView(q, http.StatusUnprocessableEntity, NewForm(url.Values{"currency": {"CNY"}}), f, id)
	}
	if err != nil {
		return err
	}
	q.Redirect("/demands#" + id)
	return nil
}

func (c *Console) decideQuote(q *Request) error {
	accept := q.Form().Get("decision") == "accept"
	if _, err := c.deps.Catalog.DecideQuote(q.Context(), q.Actor, q.PathValue("quote"), accept); err != nil {
		return err
	}
	q.Redirect("/demands#" + q.PathValue("id"))
	return nil
}
