package dcat

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// Namespaces of the vocabularies the connector reads (DCAT 3 §3, "Namespaces").
const (
	nsDCAT   = "http://www.w3.org/ns/dcat#"
	nsDCT    = "http://purl.org/dc/terms/"
	nsFOAF   = "http://xmlns.com/foaf/0.1/"
	nsVCARD  = "http://www.w3.org/2006/vcard/ns#"
	nsSKOS   = "http://www.w3.org/2004/02/skos/core#"
	nsRDFS   = "http://www.w3.org/2000/01/rdf-schema#"
	nsHydra  = "http://www.w3.org/ns/hydra/core#"
	nsSchema = "http://schema.org/"
	nsXSD    = "http://www.w3.org/2001/XMLSchema#"
	nsADMS   = "http://www.w3.org/ns/adms#"
)

// prefixes are the common prefixes of DCAT documents. A compact IRI such as
// "dct:title" expands with them wherever a known remote context is replaced.
var prefixes = map[string]any{
	"dcat":    nsDCAT,
	"dct":     nsDCT,
	"dcterms": nsDCT,
	"foaf":    nsFOAF,
	"vcard":   nsVCARD,
	"xsd":     nsXSD,
	"rdfs":    nsRDFS,
	"rdf":     "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
	"adms":    nsADMS,
	"schema":  nsSchema,
	"skos":    nsSKOS,
	"hydra":   nsHydra,
	"odrl":    "http://www.w3.org/ns/odrl/2/",
	"prov":    "http://www.w3.org/ns/prov#",
	"locn":    "http://www.w3.org/ns/locn#",
	"owl":     "http://www.w3.org/2002/07/owl#",
	"spdx":    "http://spdx.org/rdf/terms#",
	"dcatap":  "http://data.europa.eu/r5r/",
}

func withPrefixes(terms map[string]any) map[string]any {
	ctx := maps.Clone(prefixes)
	maps.Copy(ctx, terms)
	return ctx
}

func iri(id string) map[string]any { return map[string]any{"@id": id, "@type": "@id"} }

// dcatAP3Terms gives the term names of the DCAT-AP 3 JSON-LD context
// (https://semiceu.github.io/DCAT-AP/releases/3.0.0/#context) the IRIs that
// specification assigns them, for the classes and properties this connector reads.
// The published context scopes terms by type; here they are flat, which reads every
// document that context reads the same way for these terms.
var dcatAP3Terms = withPrefixes(map[string]any{
	"Catalogue": nsDCAT + "Catalog", "Dataset": nsDCAT + "Dataset", "Distribution": nsDCAT + "Distribution",
	"DataService": nsDCAT + "DataService", "DatasetSeries": nsDCAT + "DatasetSeries",
	"CatalogueRecord": nsDCAT + "CatalogRecord", "Agent": nsFOAF + "Agent", "Kind": nsVCARD + "Kind",
	"Concept": nsSKOS + "Concept", "LicenceDocument": nsDCT + "LicenseDocument", "MediaType": nsDCT + "MediaType",
	"Frequency": nsDCT + "Frequency", "Identifier": nsADMS + "Identifier",

	"dataset": iri(nsDCAT + "dataset"), "title": nsDCT + "title", "description": nsDCT + "description",
	"keyword": nsDCAT + "keyword", "theme": iri(nsDCAT + "theme"), "publisher": iri(nsDCT + "publisher"),
	"contactPoint": iri(nsDCAT + "contactPoint"), "landingPage": iri(nsDCAT + "landingPage"),
	"licence": iri(nsDCT + "license"), "frequency": iri(nsDCT + "accrualPeriodicity"),
	"releaseDate": nsDCT + "issued", "modificationDate": nsDCT + "modified", "identifier": nsDCT + "identifier",
	"datasetDistribution": iri(nsDCAT + "distribution"), "accessUrl": iri(nsDCAT + "accessURL"),
	"downloadUrl": iri(nsDCAT + "downloadURL"), "format": iri(nsDCT + "format"), "mediaType": iri(nsDCAT + "mediaType"),
	"byteSize": map[string]any{"@id": nsDCAT + "byteSize", "@type": nsXSD + "nonNegativeInteger"},
	"name":     nsFOAF + "name", "homepage": iri(nsFOAF + "homepage"), "preferredLabel": nsSKOS + "prefLabel",
	"documentation": iri(nsFOAF + "page"), "accessRights": iri(nsDCT + "accessRights"),
	"conformsTo": iri(nsDCT + "conformsTo"), "language": iri(nsDCT + "language"),
	"geographicalCoverage": iri(nsDCT + "spatial"), "temporalCoverage": iri(nsDCT + "temporal"),
	"version": nsDCAT + "version", "type": iri(nsDCT + "type"), "rights": iri(nsDCT + "rights"),
})

// dcatUS11Terms are the terms of the DCAT-US 1.1 ("Project Open Data" data.json)
// context (https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld), with the
// same IRIs that context gives them; unlisted terms fall to its vocabulary, dcat:.
var dcatUS11Terms = withPrefixes(map[string]any{
	"@vocab":      nsDCAT,
	"dc":          nsDCT,
	"org":         "http://www.w3.org/ns/org#",
	"pod":         "https://project-open-data.cio.gov/v1.1/schema#",
	"downloadURL": iri(nsDCAT + "downloadURL"), "accessURL": iri(nsDCAT + "accessURL"),
	"title": nsDCT + "title", "description": nsDCT + "description",
	"issued":   map[string]any{"@id": nsDCT + "issued", "@type": nsXSD + "date"},
	"modified": map[string]any{"@id": nsDCT + "modified", "@type": nsXSD + "date"},
	"language": nsDCT + "language", "license": nsDCT + "license", "rights": nsDCT + "rights",
	"spatial": nsDCT + "spatial", "conformsTo": iri(nsDCT + "conformsTo"), "publisher": nsDCT + "publisher",
	"identifier": nsDCT + "identifier", "temporal": nsDCT + "temporal", "format": nsDCT + "format",
	"accrualPeriodicity": nsDCT + "accrualPeriodicity", "homepage": nsFOAF + "homepage",
	"accessLevel": "https://project-open-data.cio.gov/v1.1/schema#accessLevel",
	"bureauCode":  "https://project-open-data.cio.gov/v1.1/schema#bureauCode",
	"programCode": "https://project-open-data.cio.gov/v1.1/schema#programCode",
	"fn":          nsVCARD + "fn", "hasEmail": nsVCARD + "hasEmail", "name": nsSKOS + "prefLabel",
	"subOrganizationOf": "http://www.w3.org/ns/org#subOrganizationOf",
})

// knownContexts maps the remote contexts DCAT catalogs commonly name to local
// copies, so that a harvest never fetches anything but the catalog itself. The W3C
// DCAT namespace documents serve as contexts for their prefixes only.
var knownContexts = map[string]map[string]any{
	"semiceu.github.io/DCAT-AP/releases/3.0.0/context/dcat-ap.jsonld": dcatAP3Terms,
	"semiceu.github.io/DCAT-AP/releases/3.0.1/context/dcat-ap.jsonld": dcatAP3Terms,
	"project-open-data.cio.gov/v1.1/schema/catalog.jsonld":            dcatUS11Terms,
	"www.w3.org/ns/dcat.jsonld":                                       prefixes,
	"www.w3.org/ns/dcat2.jsonld":                                      prefixes,
	"www.w3.org/ns/dcat3.jsonld":                                      prefixes,
}

// contextKey normalises a context URL: no scheme (http and https name the same
// context), no fragment, no trailing slash.
func contextKey(u string) string {
	u, _, _ = strings.Cut(u, "#")
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.TrimSuffix(u, "/")
}

// loader serves remote contexts from local copies and refuses every other URL, so
// that expanding a catalog page never goes to the network.
type loader struct {
	docs map[string]any // by contextKey: a context, with or without its @context wrapper
}

func newLoader(extra map[string]any) *loader {
	l := &loader{docs: map[string]any{}}
	for k, v := range knownContexts {
		l.docs[k] = v
	}
	for k, v := range extra {
		l.docs[contextKey(k)] = v
	}
	return l
}

// LoadDocument implements ld.DocumentLoader.
func (l *loader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	doc, ok := l.docs[contextKey(u)]
	if !ok {
		known := slices.Sorted(maps.Keys(l.docs))
		return nil, ld.NewJsonLdError(ld.LoadingRemoteContextFailed,
			fmt.Sprintf("remote context %s is not one the harvester has a copy of (it fetches no context from the network; known: %s; add it with Options.Contexts or inline it in the catalog)",
				u, strings.Join(known, ", ")))
	}
	if m, ok := doc.(map[string]any); !ok || m["@context"] == nil {
		doc = map[string]any{"@context": doc}
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: ld.CloneDocument(doc)}, nil
}
