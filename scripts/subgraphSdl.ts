/**
 * Prints the SDL this server serves as a Federation subgraph (`FEDERATION_SUBGRAPH=true`): what `_service { sdl }`
 * answers, to hand to `rover subgraph publish`, Hive's or Cosmo's schema registry: `npm run subgraph:sdl`. With
 * `--supergraph` it prints instead the supergraph it composes to with the example device service
 * (`examples/federation/deviceSubgraph.ts`), through Apollo's composition library, and fails with the composition's
 * errors should there be any.
 */
import { graphql, parse } from 'graphql';
import { composeServices } from '@apollo/composition';
import { loadTypeDefs } from '../src/graphql/apollo';
import { subgraphSchema } from '../src/graphql/subgraph';
import { DEVICE_SUBGRAPH_SDL } from '../examples/federation/deviceSubgraph';

async function main(): Promise<void> {
  const answer = await graphql({ schema: subgraphSchema(loadTypeDefs(), {}), source: '{ _service { sdl } }' });
  const sdl = (answer.data?._service as { sdl: string } | undefined)?.sdl;
  if (sdl === undefined) throw new Error(`_service did not answer: ${JSON.stringify(answer.errors)}`);
  if (!process.argv.includes('--supergraph')) {
    process.stdout.write(`${sdl}\n`);
    return;
  }
  const composed = composeServices([
    { name: 'portal', typeDefs: parse(sdl), url: 'http://portal-graphql:4000/graphql' },
    { name: 'devices', typeDefs: parse(DEVICE_SUBGRAPH_SDL), url: 'http://devices:4001/graphql' },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((error) => error.message).join('\n'));
  process.stdout.write(`${composed.supergraphSdl}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
