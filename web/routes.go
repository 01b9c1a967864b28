package web

import "github.com/dataport/dataport"

// routes lists every page of the console. The REST API keeps /api/v1/, /docs,
// /openapi.*, /log/, /dsp and the other paths of api/routes.go; the console takes
// only the paths below (Console.Serves), so the two share one server.
func (c *Console) routes() {
	c.mux.Handle("GET /static/", c.static) // embedded styles, icon and htmx
	c.mux.HandleFunc("GET /favicon.ico", c.favicon)

	c.page("GET /{$}", anyone, c.home)
	c.page("GET /login", anyone, c.signInPage)
	c.page("POST /login", anyone, c.signIn)
	c.page("POST /logout", signedIn, c.signOut)
	c.page("GET /lang/{lang}", anyone, c.switchLang)

	// Everyone's pages: the catalog and the product page.
	c.page("GET /catalog", signedIn, c.catalog)
	c.page("GET /products/{id}", signedIn, c.product)

	// The merchant's dashboard and the financial institution's page.
	c.page("GET /merchant", signedIn, c.merchant, dataport.RoleMerchant)
	c.page("POST /merchant/decide", signedIn, c.merchantDecide, dataport.RoleMerchant)
	c.page("POST /merchant/batches", signedIn, c.merchantUpload, dataport.RoleMerchant)
	c.page("GET /institution", signedIn, c.institution, dataport.RoleFinancialInstitution)

	// Each role's own pages, under its path (nav.go), listed in the role's file.
	c.supplierRoutes()  // supplier.go: /supplier/…, suppliers' and agents' work
	c.dealRoutes()      // deals.go: /demands/… and /deals/…, both sides of a deal
	c.operatorRoutes()  // operator.go: /operator/…
	c.regulatorRoutes() // regulator.go: /regulator/…
	c.financingRoutes() // financing_merchant.go, financing_institution.go: /merchant/… and /institution/…

	// Everyone's keys: signing keys and API keys.
	c.keyRoutes() // keys.go: /keys
}
