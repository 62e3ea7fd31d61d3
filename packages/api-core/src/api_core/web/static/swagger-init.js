// Starts Swagger UI on /docs from the page's data- attributes (no inline script needed).
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  var config = JSON.parse(el.dataset.config || "{}");
  config.url = el.dataset.openapiUrl;
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  config.layout = "BaseLayout";
  if (el.dataset.oauth2RedirectUrl) {
    config.oauth2RedirectUrl = window.location.origin + el.dataset.oauth2RedirectUrl;
  }
  window.ui = SwaggerUIBundle(config);
})();
