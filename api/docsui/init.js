// Swagger UI over the exchange's own OpenAPI document. Everything is served by
// dataport itself: no CDN, and no call to the public validator.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: true,
  tryItOutEnabled: false,
});
