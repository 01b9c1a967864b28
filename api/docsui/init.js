// Swagger UI over the exchange's own OpenAPI document. Everything is served by
// dataport itself: no CDN, and no call to the public validator.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Tags start folded: the API has over two hundred operations, and Swagger UI
  // drawing them all expanded stops after the first tag. A tag opens on a click
  // or by its link (/docs#/lending).
  docExpansion: "none",
  validatorUrl: null,
  persistAuthorization: true,
  tryItOutEnabled: false,
});
