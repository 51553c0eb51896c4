/// The API's OpenAPI 3.1 document, served at `/openapi.yaml`. A test validates it and fuzzes the server from it,
/// and another checks that it lists exactly the routes the server has.
enum OpenAPIDocument {
    static let yaml = #"""
        openapi: 3.1.0
        info:
          title: Millstream
          version: 0.1.0
          description: >-
            Real-time manufacturing process optimization: the plant's machines, alerts, KPIs and SPC charts, the model
            registry, and TensorFlow Serving's REST predict API. Every route but the health probes needs a bearer token
            (`millstream tokens create`); each route names the least role it needs (viewer < operator < engineer < admin).
            Errors are `{"error": "message"}`.
        servers:
          - url: /
        security:
          - bearer: []
        components:
          securitySchemes:
            bearer:
              type: http
              scheme: bearer
              description: "A Millstream token: ms_<id>_<secret>"
          responses:
            Error:
              description: The request was refused; the message says why.
              content:
                application/json:
                  schema: { $ref: "#/components/schemas/Error" }
          parameters:
            ModelName: { name: name, in: path, required: true, schema: { type: string }, example: failure }
            Version: { name: version, in: path, required: true, schema: { type: string }, example: "1" }
            Label: { name: label, in: path, required: true, schema: { type: string }, example: production }
            MachineID:
              name: id
              in: path
              required: true
              description: Machine id, percent-encoded (plant1%2Fline1%2Fm07)
              schema: { type: string }
              example: plant1%2Fline1%2Fm01
            RecommendationID:
              name: id
              in: path
              required: true
              description: Recommendation id (machine@timestamp), percent-encoded
              schema: { type: string }
            AlertID:
              name: id
              in: path
              required: true
              description: Alert id, percent-encoded
              schema: { type: string }
          schemas:
            Error:
              type: object
              required: [error]
              properties: { error: { type: string } }
            Status:
              type: object
              properties: { status: { type: string }, version: { type: string } }
            ModelStatus:
              type: object
              required: [model_version_status]
              properties:
                model_version_status:
                  type: array
                  items:
                    type: object
                    properties:
                      version: { type: string }
                      state: { type: string, enum: [UNKNOWN, START, LOADING, AVAILABLE, UNLOADING, END] }
                      status:
                        type: object
                        properties: { error_code: { type: string }, error_message: { type: string } }
            ModelMetadata:
              type: object
              required: [model_spec, metadata]
              properties:
                model_spec:
                  type: object
                  properties: { name: { type: string }, signature_name: { type: string }, version: { type: string } }
                metadata: { type: object }
            PredictRequest:
              type: object
              description: Row format (instances) or columnar format (inputs), as TensorFlow Serving takes them.
              properties:
                signature_name: { type: string }
                instances: { type: array, items: {} }
                inputs: {}
            PredictResponse:
              type: object
              properties:
                predictions: { type: array, items: {} }
                outputs: {}
            Machine:
              type: object
              properties:
                id: { type: string }
                line: { type: [string, "null"] }
                state: { type: string }
                product: { type: [string, "null"] }
                risk: { type: [number, "null"] }
                failure: { type: [boolean, "null"] }
                model: { type: [string, "null"] }
                oee: { type: [number, "null"] }
                modes: { type: object, additionalProperties: { type: number } }
            Alert:
              type: object
              properties:
                id: { type: string }
                machine: { type: string }
                ts: { type: string }
                kind: { type: string, enum: [failure_risk, spc, anomaly, drift] }
                severity: { type: string, enum: [critical, warning, info] }
                status: { type: string, enum: [raised, cleared] }
                variable: { type: [string, "null"] }
                message: { type: string }
                evidence: { type: object }
                acknowledged: { type: boolean }
                occurrences: { type: integer, description: how often it fired while open (repeats fold in) }
                last_ts: { type: string }
                acknowledged_by: { type: [string, "null"] }
                cleared_by: { type: [string, "null"] }
                shelved_until: { type: [string, "null"] }
                shelved_by: { type: [string, "null"] }
                needs_acknowledge: { type: boolean, description: a latched alarm back to normal, waiting for an acknowledgement }
                priority: { type: [string, "null"], enum: [low, medium, high, urgent, null], description: ISA-18.2 priority from the process config's alarm classes }
                latched: { type: boolean, description: stays listed after it cleared until acknowledged }
                clear_reason: { type: [string, "null"], description: why the pipeline returned it to normal when not by itself (e.g. machine down) }
            AlertAction:
              type: object
              properties: { note: { type: string, maxLength: 1000 } }
            Recommendation:
              type: object
              properties:
                id: { type: string }
                machine: { type: string }
                ts: { type: string }
                model: { type: string }
                mode: { type: string, enum: [advisory, closed_loop] }
                status: { type: string, enum: [pending, approved, rejected, applied, superseded] }
                changes:
                  type: array
                  items:
                    type: object
                    properties: { variable: { type: string }, from: { type: number }, to: { type: number }, unit: { type: string } }
                maintenance: { type: array, items: { type: string } }
                risk_before: { type: number }
                risk_after: { type: number }
                rate_change: { type: number }
                gain: { type: number }
                contributions: { type: array, items: { type: object } }
                explanation: { type: string }
            ClosedLoop:
              type: object
              required: [enabled]
              properties: { enabled: { type: boolean }, note: { type: string, maxLength: 1000 } }
            Promote:
              type: object
              properties: { stage: { type: string, enum: [none, staging, production, archived] } }
            NewToken:
              type: object
              required: [name, role]
              properties:
                name: { type: string, minLength: 1, maxLength: 100 }
                role: { type: string, enum: [viewer, operator, engineer, admin] }
                days: { type: number, minimum: 1, maximum: 3650 }
        paths:
          /healthz:
            get:
              summary: Liveness
              security: []
              responses:
                "200": { description: The process answers, content: { application/json: { schema: { $ref: "#/components/schemas/Status" } } } }
          /readyz:
            get:
              summary: Readiness (plant view caught up, registry readable)
              security: []
              responses:
                "200": { description: Ready, content: { application/json: { schema: { $ref: "#/components/schemas/Status" } } } }
                "503": { description: Still starting, content: { application/json: { schema: { type: object } } } }
          /metrics:
            get:
              summary: Prometheus metrics (viewer)
              responses:
                "200": { description: Text exposition format, content: { text/plain: { schema: { type: string } } } }
                "401": { $ref: "#/components/responses/Error" }
          /openapi.yaml:
            get:
              summary: This document (viewer)
              responses:
                "200": { description: OpenAPI 3.1, content: { application/yaml: { schema: { type: string } } } }
                "401": { $ref: "#/components/responses/Error" }
          /:
            get:
              summary: The live dashboard (viewer); a browser without a session gets the sign-in form
              responses:
                "200": { description: The page (ETag; 304 when If-None-Match matches), content: { text/html: { schema: { type: string } } } }
                "304": { description: Not modified }
                "401": { description: No session (browsers get a sign-in form) }
          /app.js:
            get:
              summary: The dashboard's script (viewer)
              responses:
                "200": { description: JavaScript (ETag), content: { text/javascript: { schema: { type: string } } } }
                "304": { description: Not modified }
                "401": { $ref: "#/components/responses/Error" }
          /app.css:
            get:
              summary: The dashboard's style sheet (viewer)
              responses:
                "200": { description: CSS (ETag), content: { text/css: { schema: { type: string } } } }
                "304": { description: Not modified }
                "401": { $ref: "#/components/responses/Error" }
          /login.css:
            get:
              summary: The sign-in form's style sheet (none)
              responses:
                "200": { description: CSS (ETag), content: { text/css: { schema: { type: string } } } }
                "304": { description: Not modified }
          /login:
            post:
              summary: Sign a browser in (none); the token comes in the form body, never in the URL
              requestBody:
                content:
                  application/x-www-form-urlencoded:
                    schema: { type: object, properties: { token: { type: string } }, required: [token] }
              responses:
                "303": { description: Signed in; the session cookie is set; go to / }
                "401": { description: "The token is missing, unknown, revoked or expired: the form again, saying which" }
          /logout:
            post:
              summary: Sign a browser out (none); clears the session cookie
              responses:
                "303": { description: Signed out; go to / }
          /v1/models/{name}:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            get:
              summary: "TensorFlow Serving: status of every version (viewer)"
              responses:
                "200": { description: Status, content: { application/json: { schema: { $ref: "#/components/schemas/ModelStatus" } } } }
                "404": { $ref: "#/components/responses/Error" }
            post:
              summary: "TensorFlow Serving: predict with the default version: POST /v1/models/NAME:predict (viewer)"
              requestBody:
                required: true
                content: { application/json: { schema: { $ref: "#/components/schemas/PredictRequest" } } }
              responses:
                "200": { description: Predictions, content: { application/json: { schema: { $ref: "#/components/schemas/PredictResponse" } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "413": { $ref: "#/components/responses/Error" }
          /v1/models/{name}/versions/{version}:
            parameters: [{ $ref: "#/components/parameters/ModelName" }, { $ref: "#/components/parameters/Version" }]
            get:
              summary: "TensorFlow Serving: status of a version (viewer)"
              responses:
                "200": { description: Status, content: { application/json: { schema: { $ref: "#/components/schemas/ModelStatus" } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
            post:
              summary: "TensorFlow Serving: predict with a version: POST .../versions/N:predict (viewer)"
              requestBody:
                required: true
                content: { application/json: { schema: { $ref: "#/components/schemas/PredictRequest" } } }
              responses:
                "200": { description: Predictions, content: { application/json: { schema: { $ref: "#/components/schemas/PredictResponse" } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
          /v1/models/{name}/labels/{label}:
            parameters: [{ $ref: "#/components/parameters/ModelName" }, { $ref: "#/components/parameters/Label" }]
            get:
              summary: "TensorFlow Serving: status by label (production, staging) (viewer)"
              responses:
                "200": { description: Status, content: { application/json: { schema: { $ref: "#/components/schemas/ModelStatus" } } } }
                "404": { $ref: "#/components/responses/Error" }
            post:
              summary: "TensorFlow Serving: predict by label: POST .../labels/production:predict (viewer)"
              requestBody:
                required: true
                content: { application/json: { schema: { $ref: "#/components/schemas/PredictRequest" } } }
              responses:
                "200": { description: Predictions, content: { application/json: { schema: { $ref: "#/components/schemas/PredictResponse" } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
          /v1/models/{name}/metadata:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            get:
              summary: "TensorFlow Serving: signature of the default version (viewer)"
              responses:
                "200": { description: Metadata, content: { application/json: { schema: { $ref: "#/components/schemas/ModelMetadata" } } } }
                "404": { $ref: "#/components/responses/Error" }
          /v1/models/{name}/versions/{version}/metadata:
            parameters: [{ $ref: "#/components/parameters/ModelName" }, { $ref: "#/components/parameters/Version" }]
            get:
              summary: "TensorFlow Serving: signature of a version (viewer)"
              responses:
                "200": { description: Metadata, content: { application/json: { schema: { $ref: "#/components/schemas/ModelMetadata" } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
          /v1/models/{name}/labels/{label}/metadata:
            parameters: [{ $ref: "#/components/parameters/ModelName" }, { $ref: "#/components/parameters/Label" }]
            get:
              summary: "TensorFlow Serving: signature by label (viewer)"
              responses:
                "200": { description: Metadata, content: { application/json: { schema: { $ref: "#/components/schemas/ModelMetadata" } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/models:
            get:
              summary: Every model with versions, stages and metrics (viewer)
              responses:
                "200": { description: Models, content: { application/json: { schema: { type: object } } } }
          /api/models/{name}:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            get:
              summary: One model with its stage history (viewer)
              responses:
                "200": { description: The model, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/models/{name}/versions/{version}/promote:
            parameters: [{ $ref: "#/components/parameters/ModelName" }, { $ref: "#/components/parameters/Version" }]
            post:
              summary: Move a version to a stage (engineer); the pipeline picks up a new production version by itself
              requestBody:
                required: true
                content: { application/json: { schema: { $ref: "#/components/schemas/Promote" } } }
              responses:
                "200": { description: Done, content: { application/json: { schema: { type: object } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/models/{name}/rollback:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            post:
              summary: Put the previous production version back (engineer)
              responses:
                "200": { description: Done, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/models/{name}/challenger:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            get:
              summary: The challenger in shadow, its live outcomes and the champion's on the same readings, and the policy's verdict (viewer)
              responses:
                "200": { description: Evidence, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/models/{name}/challenger/promote:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            post:
              summary: Promote the challenger when the promotion policy allows it (engineer)
              responses:
                "200": { description: Promoted, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/models/{name}/retrain:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            post:
              summary: Ask millstream retrain --watch to retrain the model (engineer)
              requestBody:
                required: false
                content:
                  application/json:
                    schema: { type: object, properties: { reason: { type: string, maxLength: 1000 } } }
              responses:
                "202": { description: Requested, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
                "503": { $ref: "#/components/responses/Error" }
          /api/models/{name}/challenger/reject:
            parameters: [{ $ref: "#/components/parameters/ModelName" }]
            post:
              summary: Reject the challenger; shadow scoring stops (engineer)
              responses:
                "200": { description: Rejected, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/summary:
            get:
              summary: The plant in figures (viewer)
              responses:
                "200": { description: Summary, content: { application/json: { schema: { type: object } } } }
          /api/machines:
            get:
              summary: Every machine's latest state, risk and OEE (viewer)
              responses:
                "200":
                  description: Machines
                  content:
                    application/json:
                      schema:
                        type: object
                        properties: { machines: { type: array, items: { $ref: "#/components/schemas/Machine" } } }
          /api/machines/{id}:
            parameters: [{ $ref: "#/components/parameters/MachineID" }]
            get:
              summary: One machine with features, KPIs, risk history, sensor trends and alerts (viewer)
              responses:
                "200": { description: The machine, content: { application/json: { schema: { $ref: "#/components/schemas/Machine" } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/machines/{id}/spc/{variable}:
            parameters:
              - { $ref: "#/components/parameters/MachineID" }
              - { name: variable, in: path, required: true, schema: { type: string }, example: torque_nm }
              - { name: rules, in: query, required: false, schema: { type: string, enum: [western_electric, nelson] } }
            get:
              summary: Individuals control chart of a variable with rule violations and Cp/Cpk (viewer)
              responses:
                "200": { description: The chart, content: { application/json: { schema: { type: object } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
          /api/alerts:
            get:
              summary: Alerts, newest first (viewer)
              parameters:
                - { name: status, in: query, required: false, schema: { type: string, enum: [raised, shelved, cleared, all] } }
                - { name: machine, in: query, required: false, schema: { type: string } }
                - { name: limit, in: query, required: false, schema: { type: integer, minimum: 1, maximum: 5000 } }
              responses:
                "200":
                  description: Alerts
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          alerts: { type: array, items: { $ref: "#/components/schemas/Alert" } }
                          active: { type: integer }
                          shelved: { type: integer }
                          suppressed: { type: integer, description: alarms the pipeline kept from the operator by design }
                          suppressed_by_reason:
                            type: array
                            items: { type: object, properties: { kind: { type: string }, reason: { type: string }, count: { type: integer } } }
                "400": { $ref: "#/components/responses/Error" }
          /api/alerts/{id}:
            parameters: [{ $ref: "#/components/parameters/AlertID" }]
            get:
              summary: One alert (viewer)
              responses:
                "200": { description: The alert, content: { application/json: { schema: { $ref: "#/components/schemas/Alert" } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/alerts/{id}/acknowledge:
            parameters: [{ $ref: "#/components/parameters/AlertID" }]
            post:
              summary: Acknowledge an alert (operator)
              requestBody:
                required: false
                content: { application/json: { schema: { $ref: "#/components/schemas/AlertAction" } } }
              responses:
                "200": { description: The alert, content: { application/json: { schema: { $ref: "#/components/schemas/Alert" } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/alerts/{id}/clear:
            parameters: [{ $ref: "#/components/parameters/AlertID" }]
            post:
              summary: Clear an alert (operator)
              requestBody:
                required: false
                content: { application/json: { schema: { $ref: "#/components/schemas/AlertAction" } } }
              responses:
                "200": { description: The alert, content: { application/json: { schema: { $ref: "#/components/schemas/Alert" } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/alerts/{id}/shelve:
            parameters: [{ $ref: "#/components/parameters/AlertID" }]
            post:
              summary: Shelve an active alert for some minutes (operator)
              requestBody:
                required: false
                content:
                  application/json:
                    schema:
                      type: object
                      properties:
                        minutes: { type: number, minimum: 1, maximum: 480, default: 60 }
                        note: { type: string, maxLength: 1000 }
              responses:
                "200": { description: The alert, content: { application/json: { schema: { $ref: "#/components/schemas/Alert" } } } }
                "400": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/alarms:
            get:
              summary: Alarm-system KPIs over the last hours (viewer)
              parameters:
                - { name: hours, in: query, required: false, schema: { type: number, exclusiveMinimum: 0, maximum: 168 } }
              responses:
                "200":
                  description: The KPIs
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          alarms: { type: integer }
                          per_operator_per_10_min: { type: object, properties: { mean: { type: number }, peak: { type: integer } } }
                          flood_percent: { type: number }
                          chattering: { type: integer }
                          fleeting: { type: integer }
                          standing: { type: integer }
                          stale: { type: integer }
                          suppressed: { type: integer }
                          shelved: { type: integer }
                          shelved_now: { type: integer }
                          top: { type: array, items: { type: object, properties: { condition: { type: string }, count: { type: integer } } } }
                "400": { $ref: "#/components/responses/Error" }
          /api/recommendations:
            get:
              summary: Setpoint recommendations, newest first (viewer)
              parameters:
                - { name: status, in: query, required: false, schema: { type: string, enum: [pending, approved, rejected, applied, superseded, all] } }
                - { name: machine, in: query, required: false, schema: { type: string } }
                - { name: limit, in: query, required: false, schema: { type: integer, minimum: 1, maximum: 2000 } }
              responses:
                "200":
                  description: Recommendations
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          recommendations: { type: array, items: { $ref: "#/components/schemas/Recommendation" } }
                          pending: { type: integer }
                "400": { $ref: "#/components/responses/Error" }
          /api/recommendations/{id}:
            parameters: [{ $ref: "#/components/parameters/RecommendationID" }]
            get:
              summary: One recommendation (viewer)
              responses:
                "200": { description: The recommendation, content: { application/json: { schema: { $ref: "#/components/schemas/Recommendation" } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/recommendations/{id}/approve:
            parameters: [{ $ref: "#/components/parameters/RecommendationID" }]
            post:
              summary: Approve a recommendation; its setpoints go to the setpoints topic (operator)
              requestBody:
                required: false
                content: { application/json: { schema: { $ref: "#/components/schemas/AlertAction" } } }
              responses:
                "200": { description: The recommendation, content: { application/json: { schema: { $ref: "#/components/schemas/Recommendation" } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/recommendations/{id}/reject:
            parameters: [{ $ref: "#/components/parameters/RecommendationID" }]
            post:
              summary: Reject a recommendation (operator)
              requestBody:
                required: false
                content: { application/json: { schema: { $ref: "#/components/schemas/AlertAction" } } }
              responses:
                "200": { description: The recommendation, content: { application/json: { schema: { $ref: "#/components/schemas/Recommendation" } } } }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
          /api/optimizer:
            get:
              summary: Closed loop on or off, recommendations by status (viewer)
              responses:
                "200": { description: The optimizer's state, content: { application/json: { schema: { type: object } } } }
          /api/optimizer/closed-loop:
            post:
              summary: Switch closed loop for every worker; off is immediate (operator), on needs engineer
              requestBody:
                required: true
                content: { application/json: { schema: { $ref: "#/components/schemas/ClosedLoop" } } }
              responses:
                "200": { description: The optimizer's state, content: { application/json: { schema: { type: object } } } }
                "400": { $ref: "#/components/responses/Error" }
                "403": { $ref: "#/components/responses/Error" }
          /api/kpis:
            get:
              summary: OEE per machine and line, downtime Pareto (viewer)
              responses:
                "200": { description: KPIs, content: { application/json: { schema: { type: object } } } }
          /api/monitoring:
            get:
              summary: Model outcomes against labels (viewer)
              responses:
                "200": { description: Outcomes, content: { application/json: { schema: { type: object } } } }
          /api/history/catalog:
            get:
              summary: The historian's machines and their variables (viewer)
              responses:
                "200": { description: Machines and variables, content: { application/json: { schema: { type: object } } } }
                "503": { $ref: "#/components/responses/Error" }
          /api/history:
            get:
              summary: A machine's variables over a time range, raw or in min/max/mean buckets (viewer)
              parameters:
                - { name: machine, in: query, required: true, schema: { type: string } }
                - { name: variables, in: query, required: true, description: comma separated, schema: { type: string } }
                - { name: from, in: query, required: false, description: ISO 8601 or ms; default a day before `to`, schema: { type: string } }
                - { name: to, in: query, required: false, description: ISO 8601 or ms; default now, schema: { type: string } }
                - { name: points, in: query, required: false, description: at most this many buckets; 0 for raw values, schema: { type: integer, minimum: 0, maximum: 100000 } }
              responses:
                "200":
                  description: One series per variable, as columns
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          machine: { type: string }
                          from: { type: string }
                          to: { type: string }
                          series:
                            type: array
                            items:
                              type: object
                              properties:
                                variable: { type: string }
                                resolution_ms: { type: integer }
                                source: { type: string, enum: [raw, 1m, 1h, none] }
                                t: { type: array, items: { type: string } }
                                min: { type: array, items: { type: [number, "null"] } }
                                max: { type: array, items: { type: [number, "null"] } }
                                mean: { type: array, items: { type: [number, "null"] } }
                                count: { type: array, items: { type: integer } }
                "400": { $ref: "#/components/responses/Error" }
                "503": { $ref: "#/components/responses/Error" }
          /api/history/alerts:
            get:
              summary: Alert records over a time range, newest first (viewer)
              parameters:
                - { name: machine, in: query, required: false, schema: { type: string } }
                - { name: from, in: query, required: false, schema: { type: string } }
                - { name: to, in: query, required: false, schema: { type: string } }
                - { name: limit, in: query, required: false, schema: { type: integer, minimum: 1, maximum: 100000 } }
              responses:
                "200": { description: Alert records as on the bus, content: { application/json: { schema: { type: object } } } }
                "400": { $ref: "#/components/responses/Error" }
                "503": { $ref: "#/components/responses/Error" }
          /api/export:
            get:
              summary: A machine's history or the alerts as a CSV (raw values streamed), JSON or Parquet download (engineer)
              parameters:
                - { name: kind, in: query, required: false, schema: { type: string, enum: [history, alerts] } }
                - { name: format, in: query, required: false, schema: { type: string, enum: [csv, json, parquet] } }
                - { name: machine, in: query, required: false, schema: { type: string } }
                - { name: variables, in: query, required: false, schema: { type: string } }
                - { name: from, in: query, required: false, schema: { type: string } }
                - { name: to, in: query, required: false, schema: { type: string } }
                - { name: points, in: query, required: false, schema: { type: integer, minimum: 0, maximum: 100000 } }
              responses:
                "200":
                  description: The export
                  content:
                    text/csv: { schema: { type: string } }
                    application/json: { schema: {} }
                    application/vnd.apache.parquet: { schema: { type: string, format: binary } }
                "400": { $ref: "#/components/responses/Error" }
                "403": { $ref: "#/components/responses/Error" }
                "503": { $ref: "#/components/responses/Error" }
          /api/events:
            get:
              summary: Server-sent events, one `plant` event a second (viewer)
              parameters:
                - { name: events, in: query, required: false, description: stop after this many events, schema: { type: integer, minimum: 1, maximum: 3600 } }
              responses:
                "200": { description: An event stream, content: { text/event-stream: { schema: { type: string } } } }
                "400": { $ref: "#/components/responses/Error" }
          /api/whoami:
            get:
              summary: The caller's token name and role (viewer)
              responses:
                "200": { description: Identity, content: { application/json: { schema: { type: object } } } }
          /api/tokens:
            get:
              summary: Every token, without secrets (admin)
              responses:
                "200": { description: Tokens, content: { application/json: { schema: { type: object } } } }
                "403": { $ref: "#/components/responses/Error" }
            post:
              summary: Create a token (admin); the answer holds it, shown this once
              requestBody:
                required: true
                content: { application/json: { schema: { $ref: "#/components/schemas/NewToken" } } }
              responses:
                "201": { description: The new token, content: { application/json: { schema: { type: object } } } }
                "400": { $ref: "#/components/responses/Error" }
                "403": { $ref: "#/components/responses/Error" }
          /api/tokens/{id}:
            parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
            delete:
              summary: Revoke a token (admin)
              responses:
                "200": { description: Revoked, content: { application/json: { schema: { type: object } } } }
                "404": { $ref: "#/components/responses/Error" }
          /api/audit:
            get:
              summary: The newest audit entries (admin)
              responses:
                "200": { description: Entries, content: { application/json: { schema: { type: object } } } }
                "403": { $ref: "#/components/responses/Error" }
        """#
}
