// JSON API of the console. State-changing requests carry the console's
// request header, which a cross-site page cannot set.
const HEADER = { 'X-Fedscore-Console': '1' };

async function parse(res) {
  const type = res.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    const err = new Error((body && body.error) || res.statusText);
    err.status = res.status;
    err.body = body;
    throw err;
  }
  return body;
}

export async function get(path) {
  return parse(await fetch(path, { credentials: 'same-origin' }));
}

export async function post(path, body) {
  return parse(await fetch(path, {
    method: 'POST', credentials: 'same-origin',
    headers: { ...HEADER, 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  }));
}

export async function upload(path, fields) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null && v !== '') form.append(k, v);
  return parse(await fetch(path, { method: 'POST', credentials: 'same-origin', headers: HEADER, body: form }));
}
