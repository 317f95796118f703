/**
 * The recorded histories (test/histories/, exported with `temporal workflow show --output json`)
 * carry references, not configs: no event holds a config section, and every activity a saga
 * schedules fits in 1.5 KB as exported (it was ~8 KB when the config travelled with each one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const DIR = path.resolve(__dirname, '../../../test/histories');
const MAX_SCHEDULED_BYTES = 1536;

interface HistoryFile {
  history: { events: Array<{ eventType: string; activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } }> };
}

const read = (f: string) => JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as HistoryFile;
const decodedText = (f: string) =>
  readFileSync(path.join(DIR, f), 'utf8').replace(/"data":\s*"([A-Za-z0-9+/=]+)"/g, (_, b64: string) => JSON.stringify(Buffer.from(b64, 'base64').toString('utf8')));

test('every scheduled activity of a saga fits in 1.5 KB', () => {
  const sagas = readdirSync(DIR).filter((f) => f.startsWith('saga-'));
  assert.ok(sagas.length >= 5);
  for (const f of sagas) {
    for (const e of read(f).history.events.filter((x) => /ACTIVITY_TASK_SCHEDULED/.test(x.eventType))) {
      const bytes = Buffer.byteLength(JSON.stringify(e));
      assert.ok(bytes <= MAX_SCHEDULED_BYTES, `${f}: ${e.activityTaskScheduledEventAttributes?.activityType?.name} is ${bytes} bytes`);
    }
  }
});

test('no recorded history holds a config, a config path or a restart argv', () => {
  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.json'))) {
    const text = decodedText(f);
    for (const needle of ['"error_patterns"', '"auto_fix_config"', '"configPath"', '"services"', '"restart"', '"managed"']) {
      assert.ok(!text.includes(needle), `${f} contains ${needle}`);
    }
  }
});
