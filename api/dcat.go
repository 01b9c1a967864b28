package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/dataport/dataport"
)

// catalogJSONLD serves the listed products as a DCAT 3 catalog in JSON-LD, public so
// that other catalogs and data spaces can harvest it, paged with Link headers.
func (s *Server) catalogJSONLD(w http.ResponseWriter, r *http.Request) {
	page, size := 1, 100
	for name, v := range map[string]*int{"page": &page, "size": &size} {
		if q := r.URL.Query().Get(name); q != "" {
			n, err := strconv.Atoi(q)
			if err != nil || n < 1 || n > 100000 {
				writeProblem(w, http.StatusBadRequest, name+" must be a positive number")
				return
			}
			*v = n
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	doc, more, err := s.Catalog.DCATPage(r.Context(), base, page, size)
	if err != nil {
		writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
		return
	}
	if more {
		w.Header().Add("Link", fmt.Sprintf(`<%s/catalog.jsonld?page=%d&size=%d>; rel="next"`, base, page+1, size))
	}
	if page > 1 {
		w.Header().Add("Link", fmt.Sprintf(`<%s/catalog.jsonld?page=%d&size=%d>; rel="prev"`, base, page-1, size))
	}
	w.Header().Set("Content-Type", "application/ld+json")
	json.NewEncoder(w).Encode(doc)
}
