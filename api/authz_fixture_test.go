package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/dcat"
	"github.com/dataport/dataport/harvest/dsppeer"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
)

// party is one participant of the matrix, holding one role, with an API key of it.
type party struct {
	role    dataport.Role
	id, key string
	actor   dataport.Actor
	webhook string // a webhook of its own
	priv    ed25519.PrivateKey
	keyID   string // its signing key's id
}

// tenant is a set of participants, one per role, and the records among them: a
// listed product of its supplier, a demand of its buyer with the supplier's quote, a
// deal between the two, an upload of the product's files, a consent of its merchant
// naming its institution and that institution's subscription. The matrix calls each
// endpoint with a caller's own tenant's records and with another tenant's.
type tenant struct {
	name         string
	party        map[dataport.Role]*party
	foreign      string // a foreign supplier, for whom the tenant's agent may act (R22)
	product      catalog.Product
	demand       string
	quote        string
	deal         string // requested
	finalDeal    string // finalised: it grants an entitlement to the sealed file
	doneDeal     string // finalised and confirmed: it has a transaction certificate
	upload       string
	consent      string
	subscription string
	filing       int64 // a filing about the tenant's supplier
}

func (g *tenant) of(r dataport.Role) *party { return g.party[r] }

// authzExchange is a whole exchange, every capability the API serves wired as serve
// wires them, over SQLite, with three tenants: own and other (active) and suspended
// (every participant suspended by the operator after its key and records were made).
type authzExchange struct {
	*exchange
	ctx                   context.Context
	operatorActor         dataport.Actor
	cat                   *catalog.Service
	deals                 *trade.Service
	deliveries            *delivery.Service
	lend                  *lending.Service
	fin                   *finance.Service
	shared                map[string]string // records the refused calls of a row share (call.once)
	s3keys                *registry.S3Keys
	own, other, suspended *tenant
	seq                   int
	packVersion           string
	reportSHA256          string
}

func newAuthzExchange(t *testing.T) *authzExchange {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite, store.Options{})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Data Exchange"}})
	must(t, err)
	skey, vkey, err := ledger.GenerateKey("api.test.example/log")
	must(t, err)
	lg, err := ledger.OpenLog(ctx, db, skey, nil)
	must(t, err)
	blobs, err := blob.OpenFS(t.TempDir())
	must(t, err)
	running, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lg.Run(running, 50*time.Millisecond) }()
	notifier, err := notify.New(db, bytes.Repeat([]byte{7}, notify.SecretSize), notify.Options{AllowPrivate: true})
	must(t, err)
	rules, err := compliance.New(ctx, db, reg, lg)
	must(t, err)
	cat := catalog.New(db, reg, blobs, rules)
	reg.OnSuspension(cat.SuspensionCascade)
	deals := trade.New(db, reg, rules, lg, blobs, trade.Options{FeeBasisPoints: 100, CommissionBasisPoints: 500})
	deliveries, err := delivery.New(db, reg, blobs, deals, delivery.Options{StagingDir: t.TempDir(), LinkKey: bytes.Repeat([]byte{9}, 32)})
	must(t, err)
	sealKey := bytes.Repeat([]byte{5}, 32)
	cache, err := mirror.OpenCache(t.TempDir(), mirror.Options{})
	must(t, err)
	mirrors, err := mirror.New(db, cache, sealKey)
	must(t, err)
	peers, err := dsp.NewPeers(db, sealKey)
	must(t, err)
	harvests := harvest.New(db, reg, cat, nil, harvest.Connectors{
		harvest.KindDCAT: dsppeer.DCAT(peers, &dsp.Client{HTTP: notifier.OutboundClient()}, dcat.Options{Retries: -1}, nil)})
	fin := finance.New(db, reg, finance.Options{SpoolDir: t.TempDir()})
	credits, err := credit.New(db, reg, fin, nil, credit.Options{})
	must(t, err)
	credits.ListThrough(cat, fin)
	lend := lending.New(db, reg, lending.Options{})
	reg.OnSuspension(lend.SuspensionCascade)
	s3keys := reg.S3Keys(bytes.Repeat([]byte{3}, 32))
	server := api.NewServer(api.Deps{DB: db, Registry: reg, Catalog: cat, Notify: notifier, Compliance: rules, Trade: deals,
		Delivery: deliveries, Mirror: mirrors, Harvest: harvests, Finance: fin, Credit: credits, Lending: lend, S3Keys: s3keys,
		Filings: ledger.NewReader(db), Log: lg, Version: "test", Blobs: blobs, DSPSealKey: sealKey})
	srv := httptest.NewServer(server)
	t.Cleanup(func() { srv.Close(); stop(); <-done })
	op, err := reg.Authenticate(ctx, token)
	must(t, err)
	x := &authzExchange{
		exchange: &exchange{t: t, db: db, reg: reg, log: lg, vkey: vkey, srv: srv, server: server, operator: token, notify: notifier,
			blobs: blobs, harvest: harvests, sealKey: sealKey},
		ctx: ctx, operatorActor: op, cat: cat, deals: deals, deliveries: deliveries, lend: lend, fin: fin, s3keys: s3keys, shared: map[string]string{},
	}
	packs, err := rules.Packs(ctx, op)
	must(t, err)
	for _, p := range packs {
		if p.Status == "active" {
			x.packVersion = p.Version
		}
	}
	x.own, x.other, x.suspended = x.newTenant("own"), x.newTenant("other"), x.newTenant("suspended")
	// 叫停: the suspended tenant's participants are suspended after their keys and
	// records exist, as a suspension finds them.
	for _, r := range dataport.Roles {
		if p := x.suspended.party[r]; r != dataport.RoleOperator {
			_, err := reg.Suspend(ctx, op, p.id, "authorisation matrix")
			must(t, err)
		}
	}
	return x
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// participant registers a KYC-verified participant holding role, with a signing key.
func (x *authzExchange) participant(r dataport.Role) *party {
	x.t.Helper()
	x.seq++
	n := registry.NewParticipant{LegalName: dataport.Bilingual{Zh: fmt.Sprintf("测试%s第%d有限公司", r, x.seq)},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: mustUSCC(fmt.Sprintf("91310115%09d", 100000+x.seq)),
		Roles: []dataport.Role{r}}
	if r == dataport.RoleMerchant {
		n.MerchantCategory = "frozen_food"
	}
	p, err := x.reg.CreateParticipant(x.ctx, x.operatorActor, n)
	must(x.t, err)
	_, err = x.reg.ReviewKYC(x.ctx, x.operatorActor, p.ID, registry.KYCReview{Status: registry.KYCVerified})
	must(x.t, err)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sk, err := x.reg.AddSigningKey(x.ctx, x.operatorActor, p.ID, registry.NewSigningKey{Name: "contracts", PublicKey: base64.StdEncoding.EncodeToString(pub)})
	must(x.t, err)
	_, token, err := x.reg.IssueKey(x.ctx, p.ID, registry.NewAPIKey{Name: "matrix", Roles: []dataport.Role{r}})
	must(x.t, err)
	return &party{role: r, id: p.ID, key: token, actor: dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{r}}, priv: priv, keyID: sk.ID}
}

func (x *authzExchange) newTenant(name string) *tenant {
	x.t.Helper()
	g := &tenant{name: name, party: map[dataport.Role]*party{}}
	opID := x.operatorActor.ParticipantID
	for _, r := range dataport.Roles {
		if r == dataport.RoleOperator {
			// The exchange has one operator (registry): every tenant shares it.
			g.party[r] = &party{role: r, id: opID, key: x.operator, actor: x.operatorActor}
			continue
		}
		g.party[r] = x.participant(r)
	}
	for _, r := range dataport.Roles {
		if r == dataport.RoleOperator {
			continue
		}
		p := g.party[r]
		h, err := x.notify.Register(x.ctx, p.actor, notify.NewWebhook{URL: "https://hooks.example.com/" + p.id})
		must(x.t, err)
		p.webhook = h.ID
	}
	x.seq++
	f, err := x.reg.CreateParticipant(x.ctx, x.operatorActor, registry.NewParticipant{LegalName: dataport.Bilingual{En: fmt.Sprintf("Straits Analytics %d Pte Ltd", x.seq)},
		Jurisdiction: "SG", Kind: registry.Foreign, RegistrationNumber: fmt.Sprintf("2019%05dK", x.seq), Roles: []dataport.Role{dataport.RoleSupplier}})
	must(x.t, err)
	g.foreign = f.ID
	sup, buyer := g.of(dataport.RoleSupplier), g.of(dataport.RoleBuyer)
	g.product = x.listedProduct(sup)
	d, err := x.cat.PostDemand(x.ctx, buyer.actor, catalog.NewDemand{Text: "container freight rates", Currency: "CNY"})
	must(x.t, err)
	g.demand = d.ID
	q, err := x.cat.MakeQuote(x.ctx, sup.actor, d.ID, catalog.NewQuote{ProductID: g.product.ID, Price: dataport.Money{Amount: 1_000_000, Currency: "CNY"}})
	must(x.t, err)
	g.quote = q.ID
	_, err = x.deals.Fund(x.ctx, x.operatorActor, buyer.id, dataport.Money{Amount: 10_000_000_000, Currency: "CNY"}, dataport.NewID("idem"))
	must(x.t, err)
	// An upload left open to a draft, and the listed revision's file, sealed: what a
	// finalised deal delivers.
	draft := x.draft(sup)
	up, err := x.deliveries.StartUpload(x.ctx, sup.actor, draft.ID, 1, delivery.NewUpload{Path: "data/c.csv", Size: 10})
	must(x.t, err)
	g.upload = up.ID

	_, err = x.deliveries.PutFile(x.ctx, sup.actor, g.product.ID, g.product.ListedRevision, delivery.NewUpload{Path: "data/a.csv", Size: 4}, strings.NewReader("a,b\n"))
	must(x.t, err)
	_, err = x.deliveries.Seal(x.ctx, sup.actor, g.product.ID, g.product.ListedRevision)
	must(x.t, err)
	g.deal = x.dealIn(g, trade.Requested)
	g.finalDeal = x.dealIn(g, trade.Finalized)
	g.doneDeal = x.dealIn(g, trade.Finalized)
	_, err = x.deals.ConfirmDelivery(x.ctx, buyer.actor, g.doneDeal, dataport.NewID("idem"))
	must(x.t, err)
	merchant, bank := g.of(dataport.RoleMerchant), g.of(dataport.RoleFinancialInstitution)
	c, err := x.lend.GrantConsent(x.ctx, merchant.actor, merchant.id, lending.NewConsent{Scope: []lending.Scope{lending.ScopeScore},
		Institutions: []string{bank.id}, ExpiresAt: time.Now().AddDate(0, 1, 0)})
	must(x.t, err)
	g.consent = c.ID
	_, err = x.fin.SetLiveLimitPolicy(x.ctx, x.operatorActor, merchant.id, finance.NewLiveLimitPolicy{Cap: 1_000_000, MultiplierBP: 20_000})
	must(x.t, err)
	cny := func(n int64) dataport.Money { return dataport.Money{Amount: n, Currency: "CNY"} }
	sub, err := x.lend.CreateSubscription(x.ctx, bank.actor, lending.NewSubscription{
		Criteria: lending.Criteria{Product: lending.OrderFinancing, MinLine: cny(1_000_000), MaxLine: cny(100_000_000)},
		Terms:    lending.Terms{MaxAmount: cny(30_000_000), RateBPS: 720, TermDays: 30, RepaymentShareBPS: 2000, OfferValidDays: 7}})
	must(x.t, err)
	g.subscription = sub.ID
	fs, err := ledger.NewReader(x.db).List(x.ctx, x.operatorActor, ledger.Filter{Subject: sup.id})
	must(x.t, err)
	if len(fs) == 0 {
		x.t.Fatal("no filing names the supplier")
	}
	g.filing = fs[0].Seq
	return g
}

// listedProduct lists a product of sup's through the workflow (R20: with a
// compliance report and use scenarios).
func (x *authzExchange) listedProduct(sup *party) catalog.Product {
	x.t.Helper()
	report, err := x.cat.UploadAttachment(x.ctx, sup.actor, catalog.NewAttachment{Name: "report.pdf", MediaType: "application/pdf"}, strings.NewReader("%PDF assessment"))
	must(x.t, err)
	x.reportSHA256 = report.SHA256
	d := catalog.Details{Type: "dataset", Title: dataport.Bilingual{Zh: "集装箱运价指数", En: "Container freight index"},
		Summary: dataport.Bilingual{En: "Weekly freight rates"}, Category: "shipping", DeliveryModes: []string{"api", "file"},
		Scenarios: []string{"research"}, Source: "enterprise", Grade: "general", Sublevel: 1, OriginJurisdiction: "CN",
		Rights:      catalog.Rights{Holding: true, ProcessingUse: true},
		PricePlans:  []catalog.PricePlan{{Kind: "one_off", Price: dataport.Money{Amount: 1_000_000, Currency: "CNY"}}},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: report.SHA256}}}
	p, err := x.cat.Create(x.ctx, sup.actor, catalog.NewProduct{SupplierID: sup.id, Details: d})
	must(x.t, err)
	for _, step := range []func() (catalog.Product, error){
		func() (catalog.Product, error) { return x.cat.Submit(x.ctx, sup.actor, p.ID) },
		func() (catalog.Product, error) { return x.cat.StartReview(x.ctx, x.operatorActor, p.ID) },
		func() (catalog.Product, error) { return x.cat.Approve(x.ctx, x.operatorActor, p.ID) },
	} {
		p, err = step()
		must(x.t, err)
	}
	return p
}

// dealIn makes a deal of the tenant's buyer for its supplier's product and moves it
// to state.
func (x *authzExchange) dealIn(g *tenant, state string) string {
	x.t.Helper()
	sup, buyer := g.of(dataport.RoleSupplier), g.of(dataport.RoleBuyer)
	sign := func(p *party, doc string) trade.Signature {
		return trade.Signature{KeyID: p.keyID, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(p.priv, []byte(doc)))}
	}
	d, err := x.deals.Request(x.ctx, buyer.actor, trade.NewDeal{ProductID: g.product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "file"})
	must(x.t, err)
	steps := []func() (trade.Deal, error){
		func() (trade.Deal, error) { return x.deals.Offer(x.ctx, sup.actor, d.ID, 1_000_000) },
		func() (trade.Deal, error) { return x.deals.Accept(x.ctx, buyer.actor, d.ID, dataport.NewID("idem")) },
		func() (trade.Deal, error) {
			draft, err := x.deals.Contract(x.ctx, sup.actor, d.ID)
			if err != nil {
				return d, err
			}
			return x.deals.Agree(x.ctx, sup.actor, d.ID, dataport.NewID("idem"), sign(sup, draft.Document))
		},
		func() (trade.Deal, error) { return x.deals.Verify(x.ctx, buyer.actor, d.ID, sign(buyer, d.Contract)) },
		func() (trade.Deal, error) { return x.deals.Finalize(x.ctx, sup.actor, d.ID) },
	}
	for _, step := range steps {
		if d.State == state {
			break
		}
		d, err = step()
		must(x.t, err)
	}
	if d.State != state {
		x.t.Fatalf("deal %s is %s, want %s", d.ID, d.State, state)
	}
	return d.ID
}

// draft makes a draft product of sup's.
func (x *authzExchange) draft(sup *party) catalog.Product {
	x.t.Helper()
	p, err := x.cat.Create(x.ctx, sup.actor, catalog.NewProduct{SupplierID: sup.id, Details: catalog.Details{Type: "dataset",
		Title: dataport.Bilingual{Zh: "草稿"}, Category: "shipping", Source: "enterprise", Grade: "general", Sublevel: 1,
		OriginJurisdiction: "CN", Scenarios: []string{"research"}, DeliveryModes: []string{"file"},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: x.reportSHA256}}}})
	must(x.t, err)
	return p
}
