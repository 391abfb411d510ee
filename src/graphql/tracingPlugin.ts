/**
 * The GraphQL operation's span and the stages beneath it (parse, validate, plan, execute), as OpenTelemetry's
 * GraphQL conventions name them. The operation's span starts with the request, before anything is parsed, so
 * that the plan's portal calls (started before graphql-js executes) sit beneath it; it ends once the response is
 * formed, when the errors' `extensions.code` are known. No span per field: a nested query resolves thousands.
 *
 * Nothing secret is recorded: the document with its literal values replaced, never the variables, never a header,
 * never an error's message (graphql-js quotes a variable's value in some); errors are recorded by code and path.
 */
import { Kind, print, visit, type DocumentNode } from 'graphql';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from './context';
import { endWithError, type Span } from '../tracing/tracing';

/** Longest document recorded on a span; the rest is cut (documents are bounded in tokens anyway). */
const MAX_DOCUMENT_CHARS = 8192;

export function tracingPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ contextValue }) {
      const { tracing, requestSpan } = contextValue;
      if (!tracing || !requestSpan) return;
      const operation = tracing.startChild(requestSpan, 'GraphQL Operation');
      contextValue.operationSpan = operation;
      contextValue.caller.span = operation;
      // Not sampled: `operation` is the request's span, which only carries its ids on to the portal calls.
      if (!operation.isRecording()) return;
      const stage = (name: string) => tracing.startChild(operation, name);
      return {
        async parsingDidStart() {
          const span = stage('graphql.parse');
          return async (error) => endStage(span, error ? [error] : [], 'GRAPHQL_PARSE_FAILED');
        },
        async validationDidStart() {
          const span = stage('graphql.validate');
          return async (errors) => endStage(span, errors ?? [], 'GRAPHQL_VALIDATION_FAILED');
        },
        async didResolveOperation({ operation: definition, operationName, document }) {
          if (!definition) return;
          const type = definition.operation;
          operation.updateName(operationName ? `${type} ${operationName}` : type);
          operation.setAttribute('graphql.operation.type', type);
          if (operationName) operation.setAttribute('graphql.operation.name', operationName);
          operation.setAttribute('graphql.document', documentWithoutLiterals(document));
        },
        async executionDidStart() {
          const span = stage('graphql.execute');
          return {
            async executionDidEnd(error) {
              endStage(span, error ? [error] : [], 'GRAPHQL_EXECUTION_FAILED');
            },
          };
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          const codes: string[] = [];
          for (const error of errors) {
            const code = typeof error.extensions?.code === 'string' ? error.extensions.code : 'INTERNAL_SERVER_ERROR';
            codes.push(code);
            // The code, reason and path, not the message: a message may quote a variable's value or a literal.
            operation.addEvent('exception', {
              'exception.type': code,
              ...(error.path ? { 'graphql.error.path': error.path.join('.') } : {}),
              ...(typeof error.extensions?.reason === 'string'
                ? { 'graphql.error.reason': error.extensions.reason }
                : {}),
            });
          }
          operation.setAttribute('portal.calls', contextValue.upstreamCalls.length);
          if (codes.length > 0) {
            operation.setAttribute('graphql.error.codes', [...new Set(codes)]);
            operation.setStatus({ code: SpanStatusCode.ERROR, message: codes[0]! });
          }
          operation.end();
        },
      };
    },
  };
}

function endStage(span: Span, errors: readonly Error[], errorType: string): void {
  if (errors.length === 0) span.end();
  else endWithError(span, errorType);
}

/** Documents as recorded, by document: Apollo hands the same parsed document to every request of the same query. */
const recordedDocuments = new WeakMap<DocumentNode, string>();

/**
 * The document as sent, with every literal value replaced (`"*"`, `0`): what was asked, without the values a
 * client wrote into it (a hardware id, a note). Printed once per parsed document.
 */
function documentWithoutLiterals(document: DocumentNode): string {
  let recorded = recordedDocuments.get(document);
  if (recorded === undefined) {
    recorded = printWithoutLiterals(document);
    recordedDocuments.set(document, recorded);
  }
  return recorded;
}

function printWithoutLiterals(document: DocumentNode): string {
  const hidden = visit(document, {
    StringValue: () => ({ kind: Kind.STRING, value: '*' }),
    IntValue: () => ({ kind: Kind.INT, value: '0' }),
    FloatValue: () => ({ kind: Kind.FLOAT, value: '0' }),
  });
  return print(hidden).slice(0, MAX_DOCUMENT_CHARS);
}
