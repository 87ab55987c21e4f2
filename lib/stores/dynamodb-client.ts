// The container's DynamoDBClient (AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB apply), in a module of
// its own: code that needs one only in some modes imports this module lazily, so a bundle holds
// the client tree-shaken (a dynamic import of the SDK package itself would keep every command)
// and evaluates it only when used.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** A DynamoDBClient from the environment. */
export const newDynamoDBClient = (): DynamoDBClient => new DynamoDBClient({});
