package fedscore.admission

# Decisions must not depend on the network.
decision := http.send({"method": "GET", "url": "http://localhost:8181/"}).body
