package dsp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
)

// The Catalog Protocol's provider endpoints (DSP 2025-1, "Catalog HTTPS Binding"):
//
//	POST <base>/catalog/request        CatalogRequestMessage → 200 Catalog
//	GET  <base>/catalog/datasets/:id   (DatasetRequestMessage) → 200 Dataset
//
// Errors are a CatalogError with the status the binding leaves to the provider
// ("Catalog Error": "an appropriate HTTP code"):
//
//   - 401 with WWW-Authenticate (RFC 9110 §11.6.1) when the request carries no
//     credentials or ones that bind to no registered participant. The negotiation
//     and transfer bindings answer an unauthorised caller with 404 so that it learns
//     nothing of a process ("Unauthorized Access"); the catalog endpoint hides
//     nothing (the version metadata publishes it), and 401 tells a connector that its
//     key, not the address, is wrong.
//   - 404 for a dataset that is unknown or not one the caller may see (a product
//     not listed, or whose supplier or agent is suspended): the two are not told
//     apart.
//   - 400 for a message that fails its schema (Decode), a filter this catalog does
//     not support (the binding: "If a filter expression is not supported by an
//     implementation, it must return a HTTP 400"), or bad paging parameters.
//
// Every response body is encoded and validated by Encode before it is written.

// Listings is what the catalog endpoints need of the catalog: the listed products
// any authenticated participant may see (catalog.Service.Search), and one of them
// (catalog.ListedProduct).
type Listings interface {
	Search(ctx context.Context, actor dataport.Actor, q catalog.SearchQuery) (catalog.SearchResult, error)
	Listed(ctx context.Context, productID string) (catalog.Product, error)
}

// CodeUnauthorized is the CatalogError code of a request without valid credentials.
const CodeUnauthorized = "UNAUTHORIZED"

// DefaultPageSize and MaxPageSize bound a catalog page (catalog.Service.Search
// returns at most 100 hits a page).
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// CatalogService serves the catalog endpoints.
type CatalogService struct {
	Auth     Authenticator
	Listings Listings
	// Path is the protocol's base path, the one the version metadata advertises
	// (e.g. "/dsp"); the data service's endpoint is Root + Path.
	Path string
	// Root is the connector's public URL ("https://exchange.example"); empty, each
	// request's own scheme and host.
	Root string
	// ParticipantID returns the provider's participantId (the exchange's own
	// participant IRI).
	ParticipantID func(ctx context.Context) (string, error)
	// PageSize is a page's size when the request does not ask (DefaultPageSize when 0).
	PageSize int
	Logger   *slog.Logger
}

// ServeCatalog answers POST <base>/catalog/request ("Catalog Request Message").
//
// Paging ("Technical Considerations", "Pagination"): a page is at most size
// datasets (query parameter size, 1 to MaxPageSize), newest listing first; when
// more follow, the Link header names the next page (rel="next"), and from the second
// page on the previous one (rel="prev previous": RFC 8288's registered relation and
// the name the binding uses). A page's link is where the consumer POSTs the same
// CatalogRequestMessage again: page=N&size=M, and f=, a fingerprint of the filter,
// so that a page asked with another filter is refused rather than silently mixed.
// Pages are offsets into the listing as it is when each is asked: a product listed
// meanwhile shifts later pages by one. Pages reach catalog.MaxSearchDepth datasets
// deep; past it, a filter narrows the catalog.
func (c *CatalogService) ServeCatalog(w http.ResponseWriter, r *http.Request) {
	actor, ok := c.authenticate(w, r)
	if !ok {
		return
	}
	var msg CatalogRequestMessage
	if err := ReadMessage(r, &msg); err != nil {
		c.fail(w, r, err)
		return
	}
	q, err := ParseFilter(msg.Filter)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	fp := filterPrint(q)
	page, size, err := c.paging(r.URL.Query(), fp)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	q.Limit = size
	q.Sort = "newest"
	q.After = strconv.Itoa((page - 1) * size)
	if page == 1 {
		q.After = ""
	}
	res, err := c.Listings.Search(r.Context(), actor, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	participant, err := c.ParticipantID(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	root := c.root(r)
	svc := c.service(root)
	cat := Catalog{ID: root + c.Path + "/catalog", ParticipantID: participant, Service: []DataService{svc},
		Extra: Extra{"dct:title": texts(dataport.Bilingual{Zh: "数据交易所产品目录", En: "Data exchange product catalog"})}}
	for i := range res.Items {
		if ds, ok := DatasetOf(&res.Items[i].Product, svc, true); ok {
			cat.Dataset = append(cat.Dataset, ds)
		}
	}
	link := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}, "size": {strconv.Itoa(size)}, "f": {fp}}
		return root + c.Path + "/catalog/request?" + v.Encode()
	}
	if res.Next != "" {
		w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="next"`, link(page+1)))
	}
	if page > 1 {
		w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="prev previous"`, link(page-1)))
	}
	c.write(w, r, http.StatusOK, &cat)
}

// ServeDataset answers GET <base>/catalog/datasets/:id ("Dataset Request
// Message"). The id is a dataset's @id (ProductIRI) or the bare product id. A
// request body is optional; when there is one it is a DatasetRequestMessage,
// validated, and its dataset must be the path's.
func (c *CatalogService) ServeDataset(w http.ResponseWriter, r *http.Request) {
	const op = "dsp.ServeDataset"
	if _, ok := c.authenticate(w, r); !ok {
		return
	}
	id := r.PathValue("id")
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxMessageBytes))
	if err != nil {
		c.fail(w, r, dataport.Errorf(op, dataport.KindInvalid, "the body could not be read"))
		return
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var msg DatasetRequestMessage
		if err := Decode(raw, &msg); err != nil {
			c.fail(w, r, err)
			return
		}
		if msg.Dataset != id && ProductOf(msg.Dataset) != ProductOf(id) {
			c.fail(w, r, dataport.Invalid(op, dataport.FieldProblem{Field: "dataset", Message: "the dataset of the path, " + id}))
			return
		}
	}
	p, err := c.Listings.Listed(r.Context(), ProductOf(id))
	if err != nil {
		if dataport.KindOf(err) == dataport.KindInternal || dataport.KindOf(err) == dataport.KindUnavailable {
			c.fail(w, r, err)
		} else {
			c.fail(w, r, dataport.Errorf(op, dataport.KindNotFound, "no dataset %s", id))
		}
		return
	}
	ds, ok := DatasetOf(&p, c.service(c.root(r)), false)
	if !ok {
		c.fail(w, r, dataport.Errorf(op, dataport.KindNotFound, "no dataset %s", id))
		return
	}
	c.write(w, r, http.StatusOK, &ds)
}

// authenticate binds the request to a participant, or answers 401.
func (c *CatalogService) authenticate(w http.ResponseWriter, r *http.Request) (dataport.Actor, bool) {
	actor, err := c.Auth.Authenticate(r)
	if err == nil {
		return actor, true
	}
	if dataport.KindOf(err) != dataport.KindUnauthorized {
		c.fail(w, r, err)
		return dataport.Actor{}, false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="dataport-dsp"`)
	c.write(w, r, http.StatusUnauthorized, &CatalogError{Code: CodeUnauthorized,
		Reason: []any{dataport.MessageOf(err), "authenticate with an API key the exchange issued to your participant, as a Bearer token"}})
	return dataport.Actor{}, false
}

func (c *CatalogService) fail(w http.ResponseWriter, r *http.Request, err error) {
	if StatusOf(err) >= 500 {
		c.logger().ErrorContext(r.Context(), "dsp catalog", "path", r.URL.Path, "error", err)
	}
	c.write(w, r, StatusOf(err), ErrorMessage(CatalogProtocol, "", "", err))
}

func (c *CatalogService) write(w http.ResponseWriter, r *http.Request, status int, m Message) {
	if err := WriteMessage(w, status, m); err != nil {
		c.logger().ErrorContext(r.Context(), "dsp catalog: a message was not sent", "path", r.URL.Path, "kind", m.MessageKind(), "error", err)
	}
}

func (c *CatalogService) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *CatalogService) root(r *http.Request) string {
	if c.Root != "" {
		return strings.TrimSuffix(c.Root, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// service is dataport's DSP endpoint as a DCAT data service; its description is
// the version metadata.
func (c *CatalogService) service(root string) DataService {
	return DataService{ID: root + c.Path, EndpointURL: root + c.Path, EndpointDescription: root + WellKnownPath}
}

// paging reads page and size; f, when given, must be the filter's fingerprint.
func (c *CatalogService) paging(v url.Values, fp string) (page, size int, err error) {
	const op = "dsp.ServeCatalog"
	page, size = 1, c.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	var probs dataport.Problems
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			probs.Add("page", "a page number from 1")
		}
		page = n
	}
	if s := v.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			probs.Add("size", "1 to %d datasets a page", MaxPageSize)
		}
		size = n
	}
	if f := v.Get("f"); f != "" && f != fp {
		probs.Add("filter", "not the filter of the page this link came from: send it again")
	}
	if err := probs.Err(op); err != nil {
		return 0, 0, err
	}
	if (page-1)*size >= catalog.MaxSearchDepth {
		return 0, 0, dataport.Invalid(op, dataport.FieldProblem{Field: "page", Message: fmt.Sprintf("pages reach %d datasets deep: narrow the catalog with a filter", catalog.MaxSearchDepth)})
	}
	return page, size, nil
}

// Filter terms. A CatalogRequestMessage's filter ("an implementation-specific
// filter expression or query", DSP 2025-1, "Catalog Request Message") is, for
// dataport, an array of objects whose properties are these terms, all of which a
// dataset must match:
//
//	q             full text, Chinese or English (the catalog's search)
//	type          dataset, api, report, model, service, tool
//	category      e.g. energy, shipping, finance
//	origin        the ISO 3166-1 alpha-2 code of where the data was collected
//	grade         core, important, general
//	deliveryMode  a delivery mode (file, api, …) or a distribution format (FormatOf)
//	publisher     the supplier: its participant IRI or id
//
// Every value is a string. Anything else — another term, another value type, an
// element that is not an object or is empty, a term given twice with different
// values — is a filter dataport does not support, answered with 400. (These terms
// are plain JSON, not defined by the protocol's context: a message that Decode
// must compact to validate loses them, and its empty filter objects are refused
// here rather than read as "no filter".)
var filterTerms = []string{"q", "type", "category", "origin", "grade", "deliveryMode", "publisher"}

// ParseFilter turns a catalog request's filter into a catalog search.
func ParseFilter(filter []any) (catalog.SearchQuery, error) {
	const op = "dsp.ParseFilter"
	var q catalog.SearchQuery
	var probs dataport.Problems
	set := map[string]string{}
	for i, el := range filter {
		obj, ok := el.(map[string]any)
		if !ok || len(obj) == 0 { // an empty object is also what compaction leaves of terms no context defines
			probs.Add(fmt.Sprintf("filter[%d]", i), "an object of filter terms: %s", strings.Join(filterTerms, ", "))
			continue
		}
		for k, v := range obj {
			at := fmt.Sprintf("filter[%d].%s", i, k)
			s, isString := v.(string)
			switch {
			case !slices.Contains(filterTerms, k):
				probs.Add(at, "not a filter term of this catalog; it has %s", strings.Join(filterTerms, ", "))
				continue
			case !isString:
				probs.Add(at, "a string")
				continue
			}
			if prev, dup := set[k]; dup && prev != s {
				probs.Add(at, "given twice with different values")
				continue
			}
			set[k] = s
		}
	}
	if err := probs.Err(op); err != nil {
		return q, err
	}
	q.Q, q.Type, q.Category, q.Jurisdiction, q.Grade = set["q"], set["type"], set["category"], set["origin"], set["grade"]
	if m := set["deliveryMode"]; m != "" {
		if mode, ok := DeliveryModeOf(m); ok {
			m = mode
		}
		q.DeliveryMode = m
	}
	if p := set["publisher"]; p != "" {
		q.SupplierID = strings.TrimPrefix(p, "urn:dataport:participant:")
	}
	return q, nil
}

// filterPrint is a short fingerprint of a search's filter terms, for page links.
func filterPrint(q catalog.SearchQuery) string {
	b, _ := json.Marshal([]string{q.Q, q.Type, q.Category, q.Jurisdiction, q.Grade, q.DeliveryMode, q.SupplierID}) // strings always marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}
