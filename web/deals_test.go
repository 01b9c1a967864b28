package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/trade"
)

// The demands' and deals' pages over plain HTTP, on the shared exchange, between
// the demo world's buyer and supplier that hold the roles' keys (x.keys): a deal
// requested from the product page, negotiated, signed (signatures made in Go, as a
// person without JavaScript pastes them), finalized, its file uploaded and sealed,
// downloaded by the buyer through the link the page gives, and its certificate.

// dealParties are the demo world's buyer and supplier that hold the keys, with
// signing keys registered, the buyer funded, and the supplier's listed products
// delivered as files.
type dealParties struct {
	buyer, supplier registry.Participant
	buyerKey        signingKey
	supplierKey     signingKey
	products        []catalog.Product
	// pending is a deal left REQUESTED, for the pages test: the supplier's page
	// shows the offer and agree forms and the draft contract.
	pending trade.Deal
}

var (
	partiesOnce sync.Once
	parties     dealParties
	partiesErr  error
)

// dealWorld sets the parties up once on the shared exchange.
func dealWorld(t testing.TB) (*exchange, dealParties) {
	t.Helper()
	x := seeded(t)
	partiesOnce.Do(func() { parties, partiesErr = setUpParties(t, x) })
	if partiesErr != nil {
		t.Fatalf("set the deals' parties up: %v", partiesErr)
	}
	return x, parties
}

func setUpParties(t testing.TB, x *exchange) (dealParties, error) {
	ctx := context.Background()
	var p dealParties
	for _, h := range x.world.KeyHolders() {
		switch h.Role {
		case dataport.RoleBuyer:
			p.buyer = h.Participant
		case dataport.RoleSupplier:
			p.supplier = h.Participant
		}
	}
	p.buyerKey, p.supplierKey = newSigningKey(t), newSigningKey(t)
	for who, k := range map[string]signingKey{p.buyer.ID: p.buyerKey, p.supplier.ID: p.supplierKey} {
		if _, err := x.reg.AddSigningKey(ctx, x.operator, who, registry.NewSigningKey{Name: "deals test",
			PublicKey: base64.StdEncoding.EncodeToString(k.pub)}); err != nil {
			return p, err
		}
	}
	res, err := x.cat.Search(ctx, dataport.System, catalog.SearchQuery{SupplierID: p.supplier.ID, DeliveryMode: "file", Currency: "CNY", Limit: 10})
	if err != nil {
		return p, err
	}
	for _, h := range res.Items {
		if len(h.Product.Details.Scenarios) > 0 && h.Product.Details.PricePlans[0].Price.Currency == "CNY" {
			p.products = append(p.products, h.Product)
		}
	}
	if len(p.products) < 3 {
		return p, fmt.Errorf("the demo supplier %s has %d listed file products in CNY, want 3", p.supplier.LegalName.En, len(p.products))
	}
	if _, err := x.deals.Fund(ctx, x.operator, p.buyer.ID, dataport.Money{Amount: 100_000_000_00, Currency: "CNY"}, dataport.NewID("fund")); err != nil {
		return p, err
	}
	buyer := dataport.Actor{ParticipantID: p.buyer.ID, Roles: []dataport.Role{dataport.RoleBuyer}}
	pr := p.products[2]
	p.pending, err = x.deals.Request(ctx, buyer, trade.NewDeal{ProductID: pr.ID, Scenario: pr.Details.Scenarios[0], Purpose: "trade", DeliveryMode: "file"})
	return p, err
}

func init() {
	pageSets["deals"] = func(t testing.TB, x *exchange) []pageCase {
		_, p := dealWorld(t) // the parties hold keys and the buyer a balance (its list shows it)
		sides := []dataport.Role{dataport.RoleBuyer, dataport.RoleSupplier, dataport.RoleAgent}
		return []pageCase{
			{path: "/demands", status: http.StatusOK, roles: sides},
			{path: "/deals", status: http.StatusOK, roles: sides},
			{path: "/deals?state=REQUESTED", status: http.StatusOK, roles: sides},
			// The demo's agent opens deals' pages but is no party to this one (a
			// domestic supplier's): trade answers it 404.
			{path: "/deals/" + p.pending.ID, status: http.StatusOK, roles: []dataport.Role{dataport.RoleBuyer, dataport.RoleSupplier},
				others: map[dataport.Role]int{dataport.RoleAgent: http.StatusNotFound}},
			{path: "/deals/deal_nosuchdeal", status: http.StatusNotFound, roles: sides},
		}
	}
}

// dealNow reads a deal as the operator.
func dealNow(t testing.TB, x *exchange, id string) trade.Deal {
	t.Helper()
	d, err := x.deals.Get(context.Background(), x.operator, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dealPost posts a form and checks the status; a 303 must lead where want says.
func dealPost(t testing.TB, b *browser, path string, form url.Values, status int) page {
	t.Helper()
	p := b.post(path, form)
	if p.status != status {
		t.Fatalf("POST %s %v: %s", path, form, describe(p))
	}
	if m := markers.FindAllString(p.body, -1); len(m) > 0 {
		t.Errorf("POST %s shows missing messages %v", path, m)
	}
	return p
}

// dealProblemAt says whether a page shows a problem under an input.
func dealProblemAt(body, input string) bool {
	return strings.Contains(between(body, `id="problems-`+input+`"`, `</div>`), `class="problem"`)
}

// TestDealInPages runs a deal through its pages, each side in its own session, in
// both languages: every move a form, bad input answered at its input with a 422
// and nothing changed, a move the state refuses answered at its form.
func TestDealInPages(t *testing.T) {
	x, p := dealWorld(t)
	ctx := context.Background()
	pr := p.products[0]
	buyer, supplier := x.browser(t), x.browser(t)
	buyer.signIn(x.keys[dataport.RoleBuyer])
	supplier.lang = "en-US"
	supplier.signIn(x.keys[dataport.RoleSupplier])
	buyerActor := dataport.Actor{ParticipantID: p.buyer.ID, Roles: []dataport.Role{dataport.RoleBuyer}}
	count := func() int {
		ds, err := x.deals.Deals(ctx, buyerActor, trade.DealFilter{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}

	// The product page offers the buyer a request per price plan; the supplier,
	// its own product's party, no request.
	page := buyer.mustPage("/products/"+pr.ID, http.StatusOK)
	if !strings.Contains(page.body, `id="request-deal"`) || !strings.Contains(page.body, `name="plan" value="0"`) {
		t.Fatalf("the product page has no request form:\n%s", clip(between(page.body, `id="plans"`, `</section>`)))
	}
	if page := supplier.mustPage("/products/"+pr.ID, http.StatusOK); strings.Contains(page.body, `id="request-deal"`) {
		t.Errorf("the supplier is offered to buy its own product")
	}
	before := count()
	request := url.Values{"product_id": {pr.ID}, "plan": {"0"}, "scenario": {pr.Details.Scenarios[0]}, "purpose": {"trade"},
		"delivery_mode": {"file"}, "price": {"12x"}, "max_uses": {"5"}}
	bad := dealPost(t, buyer, "/deals", request, http.StatusUnprocessableEntity)
	if !dealProblemAt(bad.body, "price") || !strings.Contains(bad.body, `value="12x"`) {
		t.Errorf("a price not a number: no problem at the price, or what was typed is lost:\n%s", clip(between(bad.body, `id="request-deal"`, `</form>`)))
	}
	request.Set("price", "")
	request.Set("scenario", "espionage")
	if bad := dealPost(t, buyer, "/deals", request, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "scenario") {
		t.Errorf("a scenario the product does not declare: no problem at the scenario")
	}
	if n := count(); n != before {
		t.Fatalf("refused requests made %d deals", n-before)
	}
	request.Set("scenario", pr.Details.Scenarios[0])
	done := dealPost(t, buyer, "/deals", request, http.StatusSeeOther)
	at := done.header.Get("Location")
	id := strings.TrimPrefix(at, "/deals/")
	if !strings.HasPrefix(at, "/deals/") || dealNow(t, x, id).State != trade.Requested {
		t.Fatalf("the request went to %q", at)
	}
	price := pr.Details.PricePlans[0].Price
	if d := dealNow(t, x, id); d.Price != price || d.Held != price || d.MaxUses != 5 {
		t.Fatalf("the deal requested: %+v", d)
	}
	// Both see it in their lists; the buyer its balance.
	if l := buyer.mustPage("/deals", http.StatusOK); !strings.Contains(l.body, `data-deal="`+id+`"`) || !strings.Contains(l.body, `id="balances"`) {
		t.Errorf("the buyer's list lacks the deal or its balance")
	}
	if l := supplier.mustPage("/deals?state=REQUESTED", http.StatusOK); !strings.Contains(l.body, `data-deal="`+id+`"`) {
		t.Errorf("the supplier's list lacks the deal")
	}
	if l := supplier.mustPage("/deals?state=OFFERED", http.StatusOK); strings.Contains(l.body, `data-deal="`+id+`"`) {
		t.Errorf("the supplier's offered deals list a requested one")
	}

	// The supplier offers: a price not a number is answered at the price.
	dp := "/deals/" + id
	page = supplier.mustPage(dp, http.StatusOK)
	for _, want := range []string{`id="offer"`, `id="agree"`, `data-sign-document`, `href="/keys"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the supplier's page of a requested deal lacks %s", want)
		}
	}
	if strings.Contains(page.body, `id="accept"`) || strings.Contains(page.body, `id="verify"`) {
		t.Errorf("the supplier is offered the buyer's moves")
	}
	v := dealNow(t, x, id).Version
	if bad := dealPost(t, supplier, dp+"/offer", url.Values{"price": {"lots"}}, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "offer-price") {
		t.Errorf("an offer not a number: no problem at its price")
	}
	if dealNow(t, x, id).Version != v {
		t.Fatal("a refused offer changed the deal")
	}
	offered := price.Amount + 150
	dealPost(t, supplier, dp+"/offer", url.Values{"price": {dealMajor(offered)}}, http.StatusSeeOther)
	if d := dealNow(t, x, id); d.State != trade.Offered || d.Price.Amount != offered {
		t.Fatalf("offered: %s %v", d.State, d.Price)
	}
	// The buyer accepts, once for two posts of the same form (its idempotency key).
	page = buyer.mustPage(dp, http.StatusOK)
	key := html.UnescapeString(between(between(page.body, `id="accept"`, `</form>`), `name="key" value="`, `"`))
	if key == "" {
		t.Fatalf("the accept form has no idempotency key:\n%s", clip(between(page.body, `id="moves"`, `</section>`)))
	}
	dealPost(t, buyer, dp+"/accept", url.Values{"key": {key}}, http.StatusSeeOther)
	accepted := dealNow(t, x, id)
	dealPost(t, buyer, dp+"/accept", url.Values{"key": {key}}, http.StatusSeeOther)
	if d := dealNow(t, x, id); d.State != trade.Accepted || d.Version != accepted.Version || d.Held.Amount != offered {
		t.Fatalf("accepted twice: %+v", d)
	}
	// A move the state no longer allows is answered at its form.
	if again := dealPost(t, supplier, dp+"/offer", url.Values{"price": {"1"}}, http.StatusConflict); !strings.Contains(again.body, `class="alert error"`) {
		t.Errorf("an offer on an accepted deal: no problem at the form")
	}

	// The supplier agrees with a signature over the contract: a signature over
	// other bytes is answered at the signature, and nothing changes.
	draft, err := x.deals.Contract(ctx, x.operator, id)
	if err != nil {
		t.Fatal(err)
	}
	page = supplier.mustPage(dp, http.StatusOK)
	if shown := html.UnescapeString(between(page.body, `data-sign-document>`, `</pre>`)); shown != draft.Document {
		t.Fatalf("the page shows another document than the contract to sign:\n%s\n%s", shown, draft.Document)
	}
	sign := url.Values{"key": {"agree-" + id}, "key_id": {p.supplierKey.id}, "signature": {p.supplierKey.sign(draft.Document + " ")}}
	if bad := dealPost(t, supplier, dp+"/agree", sign, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "agree-signature") ||
		!strings.Contains(bad.body, p.supplierKey.id) {
		t.Errorf("a bad signature: no problem at the signature, or the key id typed is lost")
	}
	sign.Set("key_id", p.buyerKey.id)
	sign.Set("signature", p.buyerKey.sign(draft.Document))
	if bad := dealPost(t, supplier, dp+"/agree", sign, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "agree-key_id") {
		t.Errorf("another party's key: no problem at the key id")
	}
	if d := dealNow(t, x, id); d.State != trade.Accepted || d.Version != accepted.Version {
		t.Fatalf("refused agreements changed the deal: %s", d.State)
	}
	sign.Set("key_id", p.supplierKey.id)
	sign.Set("signature", p.supplierKey.sign(draft.Document))
	dealPost(t, supplier, dp+"/agree", sign, http.StatusSeeOther)
	agreed := dealNow(t, x, id)
	if agreed.State != trade.Agreed || agreed.Contract != draft.Document {
		t.Fatalf("agreed: %s", agreed.State)
	}
	// The buyer verifies the contract the supplier signed, shown on its page.
	page = buyer.mustPage(dp, http.StatusOK)
	if shown := html.UnescapeString(between(between(page.body, `id="verify"`, `</form>`), `data-sign-document>`, `</pre>`)); shown != agreed.Contract {
		t.Fatalf("the buyer's page shows another document to verify")
	}
	dealPost(t, buyer, dp+"/verify", url.Values{"key_id": {p.buyerKey.id}, "signature": {p.buyerKey.sign(agreed.Contract)}}, http.StatusSeeOther)
	dealPost(t, supplier, dp+"/finalize", url.Values{}, http.StatusSeeOther)
	if d := dealNow(t, x, id); d.State != trade.Finalized || d.BundleSHA256 == "" {
		t.Fatalf("finalized: %s", d.State)
	}

	// The supplier uploads the deal's file and seals it; the buyer downloads it
	// with the page's link, and the bytes are those the server recorded.
	content := []byte("day,port,teu\n2026-11-01,上海,1200\n")
	up := dealUpload(t, supplier, dp+"/files", "data/teu.csv", content)
	if up.status != http.StatusSeeOther {
		t.Fatalf("upload: %s", describe(up))
	}
	page = supplier.mustPage(dp, http.StatusOK)
	sum := sha256.Sum256(content)
	if !strings.Contains(page.body, hex.EncodeToString(sum[:])) || !strings.Contains(page.body, `id="seal"`) {
		t.Fatalf("the supplier's page lacks the uploaded file or the seal form:\n%s", clip(between(page.body, `id="files"`, `</section>`)))
	}
	dealPost(t, supplier, dp+"/seal", url.Values{}, http.StatusSeeOther)
	page = buyer.mustPage(dp, http.StatusOK)
	link := html.UnescapeString(between(page.body, `class="download" href="`, `"`))
	if !strings.HasPrefix(link, "/api/v1/deals/"+id+"/download?") {
		t.Fatalf("no download link on the buyer's page:\n%s", clip(between(page.body, `id="files"`, `</section>`)))
	}
	got := dealFetch(t, x, link)
	if !bytes.Equal(got, content) {
		t.Fatalf("downloaded %q, want %q", got, content)
	}
	// Every file delivered whole: delivery is confirmed, the escrow released, and
	// the certificate shown with its download.
	if d := dealNow(t, x, id); d.Settled != "released" {
		t.Fatalf("after the download the money is %s", d.Settled)
	}
	page = buyer.mustPage(dp, http.StatusOK)
	cert, err := x.deals.Certificate(ctx, x.operator, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.body, `id="certificate"`) || !strings.Contains(page.body, cert.Certificate.ID) ||
		!strings.Contains(page.body, hex.EncodeToString(sum[:])) {
		t.Fatalf("the buyer's page lacks the certificate or its delivery log")
	}
	file := buyer.post(dp+"/certificate", url.Values{})
	var sent struct {
		Certificate trade.TransactionCertificate `json:"certificate"`
		Canonical   string                       `json:"canonical"`
		SignedNote  string                       `json:"signed_note"`
	}
	if file.status != http.StatusOK || !strings.Contains(file.header.Get("Content-Disposition"), "attachment") ||
		json.Unmarshal([]byte(file.body), &sent) != nil || sent.Canonical != cert.Canonical || sent.SignedNote == "" ||
		sent.Certificate.DeliveryLog[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the certificate's download: %s", describe(file))
	}
	// The supplier's page, in English, shows the same deal settled.
	if page := supplier.mustPage(dp, http.StatusOK); !strings.Contains(page.body, "released") || !strings.Contains(page.body, cert.Certificate.ID) {
		t.Errorf("the supplier's page does not show the deal settled and certified")
	}
}

// TestDealTerminate: a reason is needed to end a deal, and ending it refunds the
// buyer.
func TestDealTerminate(t *testing.T) {
	x, p := dealWorld(t)
	ctx := context.Background()
	pr := p.products[1]
	buyerActor := dataport.Actor{ParticipantID: p.buyer.ID, Roles: []dataport.Role{dataport.RoleBuyer}}
	d, err := x.deals.Request(ctx, buyerActor, trade.NewDeal{ProductID: pr.ID, Scenario: pr.Details.Scenarios[0], Purpose: "trade", DeliveryMode: "file"})
	if err != nil {
		t.Fatal(err)
	}
	b := x.browser(t)
	b.lang = "en-US"
	b.signIn(x.keys[dataport.RoleBuyer])
	dp := "/deals/" + d.ID
	if bad := dealPost(t, b, dp+"/terminate", url.Values{"reason": {"  "}, "key": {"t-" + d.ID}}, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "terminate-reason") {
		t.Errorf("no reason: no problem at the reason")
	}
	if dealNow(t, x, d.ID).State != trade.Requested {
		t.Fatal("a refused termination ended the deal")
	}
	dealPost(t, b, dp+"/terminate", url.Values{"reason": {"budget moved to next year"}, "key": {"t-" + d.ID}}, http.StatusSeeOther)
	if got := dealNow(t, x, d.ID); got.State != trade.Terminated || got.Settled != "refunded" || got.TerminationReason != "budget moved to next year" {
		t.Fatalf("terminated: %+v", got)
	}
	page := b.mustPage(dp, http.StatusOK)
	if !strings.Contains(page.body, "budget moved to next year") || strings.Contains(page.body, `id="terminate"`) {
		t.Errorf("the ended deal's page lacks the reason or still offers to end it")
	}
	// Another buyer finds no such deal.
	_, other := x.member(t, dataport.RoleBuyer)
	ob := x.browser(t)
	ob.signIn(other)
	ob.mustPage(dp, http.StatusNotFound)
}

// TestDemandsInPages: a buyer posts a demand (bad input answered inline), the
// supplier whose product fits it sees it and quotes, the buyer accepts the quote
// and closes the demand.
func TestDemandsInPages(t *testing.T) {
	x, p := dealWorld(t)
	pr := p.products[0]
	buyer, supplier := x.browser(t), x.browser(t)
	buyer.signIn(x.keys[dataport.RoleBuyer])
	supplier.signIn(x.keys[dataport.RoleSupplier])
	text := pr.Details.Title.Zh + " " + dataport.NewID("w")
	bad := dealPost(t, buyer, "/demands", url.Values{"text": {text}, "currency": {"CNY"}, "budget_max": {"many"}, "jurisdictions": {"CN"}},
		http.StatusUnprocessableEntity)
	if !dealProblemAt(bad.body, "budget_max") || !strings.Contains(bad.body, html.EscapeString(text)) {
		t.Errorf("a budget not a number: no problem at it, or the text typed is lost")
	}
	if bad := dealPost(t, buyer, "/demands", url.Values{"text": {text}, "currency": {"CNY"}, "jurisdictions": {"XX"}}, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "jurisdictions") {
		t.Errorf("a country that is none: no problem at the origins")
	}
	done := dealPost(t, buyer, "/demands", url.Values{"text": {text}, "currency": {"CNY"}, "jurisdictions": {"cn"}}, http.StatusSeeOther)
	id := strings.TrimPrefix(done.header.Get("Location"), "/demands#")
	page := buyer.mustPage("/demands", http.StatusOK)
	mine := between(page.body, `data-demand="`+id+`"`, `</article>`)
	if !strings.Contains(mine, `data-product="`+pr.ID+`"`) {
		t.Fatalf("the buyer's demand does not list the product it was written for:\n%s", clip(mine))
	}
	// The supplier sees the demand its product fits, and quotes.
	page = supplier.mustPage("/demands", http.StatusOK)
	if !strings.Contains(page.body, `data-demand="`+id+`"`) {
		t.Fatalf("the supplier does not see the demand its product fits")
	}
	quote := url.Values{"product_id": {pr.ID}, "currency": {"CNY"}, "price": {"about 10"}, "message": {"the full year"}}
	if bad := dealPost(t, supplier, "/demands/"+id+"/quotes", quote, http.StatusUnprocessableEntity); !dealProblemAt(bad.body, "quote-price") {
		t.Errorf("a quote not a number: no problem at its price")
	}
	quote.Set("price", "9800")
	dealPost(t, supplier, "/demands/"+id+"/quotes", quote, http.StatusSeeOther)
	page = buyer.mustPage("/demands", http.StatusOK)
	q := between(between(page.body, `data-demand="`+id+`"`, `</article>`), `data-quote="`, `"`)
	if q == "" || !strings.Contains(page.body, "CNY 9,800.00") {
		t.Fatalf("the buyer does not see the quote")
	}
	dealPost(t, buyer, "/demands/"+id+"/quotes/"+q, url.Values{"decision": {"accept"}}, http.StatusSeeOther)
	dealPost(t, buyer, "/demands/"+id+"/close", url.Values{}, http.StatusSeeOther)
	page = buyer.mustPage("/demands", http.StatusOK)
	mine = between(page.body, `data-demand="`+id+`"`, `</article>`)
	if !strings.Contains(mine, `href="/products/`+pr.ID+`#request-h"`) || strings.Contains(mine, `/close"`) {
		t.Errorf("after accepting and closing: %s", clip(mine))
	}
	// The closed demand takes no more quotes.
	if p := supplier.post("/demands/"+id+"/quotes", quote); p.status != http.StatusConflict {
		t.Errorf("a quote for a closed demand: %d", p.status)
	}
}

// dealUpload posts a file as the deal page's upload form does.
func dealUpload(t testing.TB, b *browser, path, name string, content []byte) page {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", b.csrf())
	w.WriteField("path", name)
	fw, err := w.CreateFormFile("file", "teu.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	req, err := http.NewRequest(http.MethodPost, b.x.srv.URL+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

// dealFetch GETs a path of the server with no credentials: a signed link carries its own.
func dealFetch(t testing.TB, x *exchange, path string) []byte {
	t.Helper()
	res, err := http.Get(x.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", path, res.StatusCode, err, b)
	}
	return b
}

// dealMajor writes minor units of CNY as a person types the amount: 1234.50.
func dealMajor(minor int64) string {
	return strings.ReplaceAll(strings.TrimPrefix(cny(minor), "CNY "), ",", "")
}
