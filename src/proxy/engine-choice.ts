import type { EngineModule, EngineReport, EngineSetting } from './engine.js';

/**
 * Loads the engine `setting` asks for. `auto` imports the fast engine and
 * runs its self-test (a real request and response through its parser and
 * write path on loopback); if the import or the test fails, the portable
 * engine serves instead and the report says why (`fallback`). `fast` fails
 * loudly instead of falling back. Either engine module is imported here only,
 * so a process that never starts the proxy never loads one.
 */
export async function chooseEngine(setting: EngineSetting, selfTestFault: boolean): Promise<{ module: EngineModule; report: EngineReport }> {
  if (setting === 'portable') return { module: await portable(), report: { engine: 'portable', reason: 'proxy.engine is portable', fallback: false } };
  let problem: string;
  try {
    const fast = await import('./http1/http1.engine.js');
    await fast.selfTest(selfTestFault);
    const reason = setting === 'fast' ? 'proxy.engine is fast' : `auto: the fast engine passed its self-test on Node ${process.version}`;
    return { module: fast as unknown as EngineModule, report: { engine: 'fast', reason, fallback: false } };
  } catch (error) {
    problem = (error as Error).message;
    if (setting === 'fast') throw new Error(`proxy.engine is fast, but the fast engine cannot run on Node ${process.version}: ${problem}`);
  }
  return {
    module: await portable(),
    report: { engine: 'portable', reason: `auto: the fast engine failed its self-test on Node ${process.version} (${problem}); the portable engine serves`, fallback: true },
  };
}

async function portable(): Promise<EngineModule> {
  return (await import('./portable/portable.engine.js')) as unknown as EngineModule;
}
