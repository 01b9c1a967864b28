package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/trade"
)

// TestDealInBrowser walks a product from its listing to a completed deal through
// the console in Chromium, each party signed in in turn in the same tab: the
// supplier creates the product in the editor, uploads its compliance report and
// submits it; the operator starts the review and approves it from its review
// page; the buyer types a two-character Chinese query of its title into the
// catalog's search, opens the product and requests a deal; the supplier offers,
// and agrees by choosing its key file (static/sign.js signs the contract in the
// browser); the buyer accepts and verifies with its own key file; the supplier
// finalizes, uploads the deal's file with the upload's progress shown
// (static/upload.js) and seals it; the buyer downloads the file — the bytes are
// those whose SHA-256 the server recorded — and the certificate. Each page is shot
// in English and Chinese; nothing is requested from outside the server.
func TestDealInBrowser(t *testing.T) {
	x, p := dealWorld(t)
	ctx := context.Background()
	// Key files of the two sides, their public keys registered.
	buyerKey, supplierKey := newSigningKey(t), newSigningKey(t)
	buyerKey.register(t, x, p.buyer.ID)
	supplierKey.register(t, x, p.supplier.ID)
	content := []byte("港口,日期,吞吐量\n上海,2026-11-01,1200\n宁波,2026-11-01,980\n")
	dataFile := filepath.Join(t.TempDir(), "throughput.csv")
	if err := os.WriteFile(dataFile, content, 0o644); err != nil {
		t.Fatal(err)
	}

	cr := startChrome(t, x)
	tab, step, until, shoot := cr.tab, cr.step, cr.until, cr.shoot
	signIn := func(who string, key string) {
		t.Helper()
		step("sign in as the "+who, chromedp.Navigate(x.srv.URL+"/login"))
		signedIn, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("form.signout") !== null`))
		if err != nil {
			t.Fatal(err)
		}
		if signedIn {
			step("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)))
		}
		step("the sign-in form", chromedp.WaitVisible(chromedp.ID("key")), chromedp.SendKeys(chromedp.ID("key"), key),
			chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
		until("signed in as the "+who, `location.pathname !== "/login" && document.querySelector("form.signout") !== null`)
	}
	var dealURL string
	state := func(s string) string {
		return `document.querySelector("article.deal") !== null && document.querySelector("article.deal").dataset.state === "` + s + `"`
	}
	openDeal := func() {
		t.Helper()
		step("open the deal", chromedp.Navigate(dealURL), chromedp.WaitVisible(chromedp.ID("moves")))
	}

	// The supplier lists a product: made in the editor, its compliance report
	// uploaded, submitted. "鹭岛" (Xiamen) names no other product of the catalog.
	const query = "鹭岛"
	signIn("supplier", x.keys[dataport.RoleSupplier])
	step("the editor", chromedp.Navigate(x.srv.URL+"/supplier/products/new"), chromedp.WaitVisible(chromedp.ID("editor")))
	step("fill in the product", fillProduct(query+"港口集装箱日报", "Xiamen port container daily", "file", "CN")...)
	step("create it", chromedp.Click(chromedp.ID("save")))
	until("the draft's page", `location.pathname.startsWith("/supplier/products/prd_")`)
	step("upload the compliance report", uploadReport(t)...)
	until("the report uploaded", reportUploaded)
	step("submit it", chromedp.Click(chromedp.ID("submit-button")))
	until("submitted", productSubmitted)
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	pr, err := x.cat.Get(ctx, x.operator, strings.TrimPrefix(strings.SplitN(loc, "#", 2)[0], x.srv.URL+"/supplier/products/"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := x.cat.Search(ctx, dataport.System, catalog.SearchQuery{Q: query}); err != nil || res.Total != 0 {
		t.Fatalf("before its listing, a search for %s finds %d products (%v)", query, res.Total, err)
	}

	// The operator reviews and approves it from the review's pages.
	signIn("operator", x.keys[dataport.RoleOperator])
	step("the review queue", chromedp.Navigate(x.srv.URL+"/operator/review"))
	until("the product in the queue", `document.querySelector('#queue tr[data-product="`+pr.ID+`"] a') !== null`)
	step("open the product", chromedp.Click(chromedp.CSS(`#queue tr[data-product="`+pr.ID+`"] a`)), chromedp.WaitVisible(chromedp.ID("start")))
	step("start the review", chromedp.Click(chromedp.ID("start")))
	until("under review", `document.querySelector('#product[data-state="under_review"]') !== null && document.querySelector("#approve") !== null`)
	step("approve", chromedp.Click(chromedp.ID("approve")))
	until("listed with its registration number", `document.querySelector('#done[data-done="listed"]') !== null &&
		document.querySelector("#regno").textContent.trim().length > 0`)
	if pr, err = x.cat.Get(ctx, x.operator, pr.ID); err != nil || pr.Status != catalog.Listed {
		t.Fatalf("after the approval the product is %s (%v)", pr.Status, err)
	}

	// The buyer finds the product with a two-character Chinese query and
	// requests a deal for its plan, delivered as files.
	signIn("buyer", x.keys[dataport.RoleBuyer])
	step("the catalog", chromedp.Navigate(x.srv.URL+"/catalog"), chromedp.WaitVisible(chromedp.ID("q")))
	step("type "+query, chromedp.SendKeys(chromedp.ID("q"), query))
	link := `.hit a[href="/products/` + pr.ID + `"]`
	until("the product among the hits", `document.querySelector(`+jsString(link)+`) !== null &&
		new URLSearchParams(location.search).get("q") === `+jsString(query))
	step("open the product", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.ID("request-deal")))
	shoot("deal-product-en")
	step("ask for files", chromedp.SetValue(chromedp.ID("delivery_mode"), "file"),
		chromedp.Click(chromedp.ID("request-submit")))
	until("the requested deal", `location.pathname.startsWith("/deals/deal_") && `+state(trade.Requested))
	loc, err = chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	dealURL = loc
	id := strings.TrimPrefix(strings.SplitN(loc, "#", 2)[0], x.srv.URL+"/deals/")
	shoot("deal-requested-en")

	// The supplier offers a price, typed as a person types it.
	signIn("supplier", x.keys[dataport.RoleSupplier])
	openDeal()
	offered := pr.Details.PricePlans[0].Price.Amount + 10_000
	step("offer", chromedp.SendKeys(chromedp.ID("offer-price"), dealMajor(offered)), chromedp.Click(chromedp.CSS(`#offer button[type=submit]`)))
	until("offered", state(trade.Offered))
	shoot("deal-offered-supplier-en")

	// The buyer accepts: the price is held.
	signIn("buyer", x.keys[dataport.RoleBuyer])
	openDeal()
	step("accept", chromedp.Click(chromedp.CSS(`#accept button[type=submit]`)))
	until("accepted", state(trade.Accepted))

	// The supplier agrees: choosing its key file signs the contract in the
	// browser, and the exchange checks the signature.
	signIn("supplier", x.keys[dataport.RoleSupplier])
	openDeal()
	step("choose the supplier's key file", chromedp.SetUploadFiles(chromedp.ID("sign-key"), []string{supplierKey.pem}))
	until("signed in the browser", `document.querySelector("#agree [name=signature]").value !== "" &&
		document.querySelector("#agree [name=key_id]").value === `+jsString(supplierKey.id))
	shoot("deal-agree-supplier-en")
	step("agree", chromedp.Click(chromedp.CSS(`#agree button[type=submit]`)))
	until("agreed", state(trade.Agreed))

	// The buyer verifies with its key file.
	signIn("buyer", x.keys[dataport.RoleBuyer])
	openDeal()
	step("choose the buyer's key file", chromedp.SetUploadFiles(chromedp.ID("sign-key"), []string{buyerKey.pem}))
	until("signed in the browser", `document.querySelector("#verify [name=signature]").value !== ""`)
	shoot("deal-verify-buyer-en")
	step("verify", chromedp.Click(chromedp.CSS(`#verify button[type=submit]`)))
	until("verified", state(trade.Verified))

	// The supplier finalizes, uploads the file with its progress, and seals it.
	signIn("supplier", x.keys[dataport.RoleSupplier])
	openDeal()
	step("finalize", chromedp.Click(chromedp.CSS(`#finalize button[type=submit]`)))
	until("finalized", state(trade.Finalized)+` && document.querySelector("#upload") !== null`)
	step("choose the file", chromedp.SetUploadFiles(chromedp.ID("files-file"), []string{dataFile}))
	step("upload", chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)))
	until("the file uploaded, its progress seen to the end", `document.documentElement.dataset.uploadProgress === "100" &&
		document.querySelector('[data-file="throughput.csv"]') !== null && document.querySelector("#seal") !== null`)
	shoot("deal-files-supplier-en")
	step("seal", chromedp.Click(chromedp.CSS(`#seal button[type=submit]`)))
	until("sealed", `document.querySelector("#sealed") !== null`)
	step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the deal in Chinese", `document.documentElement.lang === "zh-CN" && `+state(trade.Finalized))
	shoot("deal-sealed-supplier-zh")
	step("the supplier's deals", chromedp.Navigate(x.srv.URL+"/deals"), chromedp.WaitVisible(chromedp.CSS(`[data-deal="`+id+`"]`)))
	shoot("deals-supplier-zh")
	step("the supplier's demands", chromedp.Navigate(x.srv.URL+"/demands"), chromedp.WaitVisible(chromedp.ID("fitting")))
	shoot("demands-supplier-zh")

	// The buyer downloads the file: the bytes whose SHA-256 the manifest sealed.
	// Delivered whole, the deal's delivery is confirmed and its certificate issued.
	signIn("buyer", x.keys[dataport.RoleBuyer])
	openDeal()
	until("the download link", `document.querySelector("a.download") !== null`)
	shoot("deal-download-buyer-zh")
	got := cr.download("download the file", chromedp.Click(chromedp.CSS(`a.download`)))
	sum := sha256.Sum256(got)
	m, err := x.deliver.DealManifest(ctx, dataport.Actor{ParticipantID: p.buyer.ID, Roles: []dataport.Role{dataport.RoleBuyer}}, id)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := m.File("throughput.csv"); !ok || f.SHA256 != hex.EncodeToString(sum[:]) || string(got) != string(content) {
		t.Fatalf("downloaded %d bytes (SHA-256 %x); the server recorded %+v", len(got), sum, f)
	}
	step("the deal again", chromedp.Reload())
	until("the certificate", `document.querySelector("#certificate .cert-id") !== null`)
	shoot("deal-certificate-buyer-zh")
	certFile := cr.download("download the certificate", chromedp.Click(chromedp.CSS(`#certificate-download button`)))
	var cert struct {
		Certificate trade.TransactionCertificate `json:"certificate"`
		SignedNote  string                       `json:"signed_note"`
	}
	if err := json.Unmarshal(certFile, &cert); err != nil || cert.Certificate.DealID != id || cert.SignedNote == "" ||
		len(cert.Certificate.DeliveryLog) != 1 || cert.Certificate.DeliveryLog[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the certificate file: %v\n%s", err, certFile)
	}
	step("switch to English", chromedp.Click(chromedp.CSS(`.langs a[data-lang="en"]`)))
	until("the deal in English", `document.documentElement.lang === "en" && document.querySelector("#certificate") !== null`)
	shoot("deal-certificate-buyer-en")
	step("the buyer's deals", chromedp.Navigate(x.srv.URL+"/deals"), chromedp.WaitVisible(chromedp.CSS(`[data-deal="`+id+`"]`)))
	shoot("deals-buyer-en")
	step("the buyer's demands", chromedp.Navigate(x.srv.URL+"/demands"), chromedp.WaitVisible(chromedp.ID("post-demand")))
	shoot("demands-buyer-en")
	step("Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the demands in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector("#post-demand") !== null`)
	shoot("demands-buyer-zh")
	if d := dealNow(t, x, id); d.Settled != "released" || !utf8.ValidString(d.Contract) {
		t.Errorf("the deal after the download: %s %s", d.State, d.Settled)
	}
	cr.finish(30)
}
