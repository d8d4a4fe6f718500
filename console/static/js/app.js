// The console's page: three views behind a hash route, one language switch.
import { get } from './api.js';
import { setLang, lang, applyStatic } from './i18n.js';
import { initAnalyst, renderAnalyst } from './analyst.js';
import { initRegulator, renderRegulator } from './regulator.js';
import { initOperator, renderOperator, showOperator } from './operator.js';

const views = ['analyst', 'regulator', 'operator'];
const started = {};
let session;

function route() {
  const view = views.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'analyst';
  for (const v of views) document.getElementById('view-' + v).hidden = v !== view;
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.view === view));
  const root = document.getElementById('view-' + view);
  if (!started[view]) {
    started[view] = ({ analyst: initAnalyst, regulator: initRegulator, operator: initOperator })[view](root, session);
  } else if (view === 'operator') {
    showOperator();
  }
}

async function main() {
  setLang(lang());
  session = await get('/api/session');
  document.getElementById('session-info').textContent = session.identity || (session.sandbox ? 'sandbox · loopback' : 'loopback');
  if (!session.operator) document.querySelector('#nav a[data-view=operator]').classList.add('hidden');
  document.getElementById('lang-switch').addEventListener('click', () => {
    setLang(lang() === 'en' ? 'zh-CN' : 'en');
    renderAnalyst(); renderRegulator(); renderOperator();
  });
  window.addEventListener('hashchange', route);
  applyStatic();
  route();
  document.body.dataset.ready = 'true';
}

main();
